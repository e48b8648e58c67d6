//! The QR code of the 2D code payload, drawn as filled vector rectangles so it stays sharp at
//! any print or screen resolution.

use krilla::geom::{PathBuilder, Rect, Transform};
use krilla::surface::Surface;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::Color;

use super::FormatError;
use crate::formats::hcert::QR_EC_LEVEL;

/// The dark modules of a QR code, as runs within rows.
pub(super) struct QrMatrix {
    /// Modules a side, without the quiet zone.
    pub width: usize,
    /// `(row, first column, length)` of each horizontal run of dark modules.
    runs: Vec<(usize, usize, usize)>,
}

/// The eight mask patterns of a QR code (ISO/IEC 18004).
const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// Widest symbol the bit-parallel scoring handles: a line and the 4 light modules on each side
/// must fit in a `u128`. Version 25, the largest a 2D code may use, is 117 modules wide.
const MAX_SCORED_WIDTH: usize = 120;

/// Scores a masked symbol by the four penalty rules of ISO/IEC 18004, where lower is easier to
/// read. The rules penalise runs of five or more modules of one colour, 2 by 2 blocks of one
/// colour, patterns that look like a finder pattern, and a dark share far from half.
///
/// `rows[r]` has bit `c` set when module `(r, c)` is dark, and `columns[c]` bit `r`, so each rule
/// is a few shifts and population counts a line instead of a loop over modules.
fn penalty(rows: &[u128], columns: &[u128], width: usize) -> u32 {
    let mut score: u32 = rows
        .iter()
        .chain(columns)
        .map(|&line| line_penalty(line, width))
        .sum();

    // A 2 by 2 block starting at column c: no vertical change in columns c and c + 1, and no
    // horizontal change between them in the upper row.
    let block_starts = low_bits(width.saturating_sub(1));
    for pair in rows.windows(2) {
        let vertical = pair[0] ^ pair[1];
        let horizontal = pair[0] ^ (pair[0] >> 1);
        let blocks = !(vertical | (vertical >> 1) | horizontal) & block_starts;
        score += 3 * blocks.count_ones();
    }

    let dark_count: usize = rows.iter().map(|row| row.count_ones() as usize).sum();
    let percent = dark_count * 100 / (width * width).max(1);
    let deviation = percent.abs_diff(50) / 5;
    score + 10 * u32::try_from(deviation).unwrap_or(u32::MAX / 20)
}

/// Returns a mask of the lowest `count` bits.
fn low_bits(count: usize) -> u128 {
    if count >= 128 {
        u128::MAX
    } else {
        (1u128 << count) - 1
    }
}

/// Scores one row or column of `width` modules, bit `i` for module `i`. A run of one colour
/// scores 3 at five modules and 1 more for each module beyond. A dark-light-dark-dark-dark-
/// light-dark sequence, which a reader could take for a finder pattern, scores 40 for each side
/// with four light modules. Modules outside the symbol count as light, because the quiet zone is
/// light.
fn line_penalty(line: u128, width: usize) -> u32 {
    let line = line & low_bits(width);
    let light = !line & low_bits(width);

    // Bit i of `same` is set when modules i..i+4 have one colour. A run of n >= 5 modules sets
    // n - 4 consecutive bits, and scores n - 2: those bits plus 2 for the run's first bit.
    let five_dark = line & (line >> 1) & (line >> 2) & (line >> 3) & (line >> 4);
    let five_light = light & (light >> 1) & (light >> 2) & (light >> 3) & (light >> 4);
    let same = (five_dark | five_light) & low_bits(width.saturating_sub(4));
    let run_starts = same & !(same << 1);
    let mut score = same.count_ones() + 2 * run_starts.count_ones();

    // The line with 4 light modules before and after it, searched for the 11-module patterns.
    let padded = line << 4;
    let starts = low_bits((width + 8).saturating_sub(10));
    for pattern in [FINDER_LIGHT_BEFORE, FINDER_LIGHT_AFTER] {
        let mut matches = starts;
        for (offset, &dark) in pattern.iter().enumerate() {
            let shifted = padded >> offset;
            matches &= if dark { shifted } else { !shifted };
        }
        score += 40 * matches.count_ones();
    }
    score
}

/// Four light modules, then the finder-like dark-light-dark-dark-dark-light-dark sequence.
const FINDER_LIGHT_BEFORE: [bool; 11] = [
    false, false, false, false, true, false, true, true, true, false, true,
];
/// The finder-like sequence, then four light modules.
const FINDER_LIGHT_AFTER: [bool; 11] = [
    true, false, true, true, true, false, true, false, false, false, false,
];

/// Collects the horizontal runs of dark modules, row by row.
fn dark_runs(rows: &[u128], width: usize) -> Vec<(usize, usize, usize)> {
    let mut runs = Vec::new();
    for (row, &modules) in rows.iter().enumerate() {
        let mut column = 0;
        while column < width {
            if (modules >> column) & 1 == 0 {
                column += 1;
                continue;
            }
            let start = column;
            while column < width && (modules >> column) & 1 == 1 {
                column += 1;
            }
            runs.push((row, start, column - start));
        }
    }
    runs
}

impl QrMatrix {
    /// Encodes `payload` at error correction level Q. A Base45 payload stays in alphanumeric mode,
    /// because the `qrcode` crate picks the mode from the characters.
    pub fn encode(payload: &str) -> Result<Self, FormatError> {
        let too_long = |error: qrcode::types::QrError| {
            FormatError::Encode(format!("the 2D code does not fit a QR code: {error}"))
        };
        let bits = qrcode::bits::encode_auto(payload.as_bytes(), QR_EC_LEVEL).map_err(too_long)?;
        let version = bits.version();
        let (data, error_correction) =
            qrcode::ec::construct_codewords(&bits.into_bytes(), version, QR_EC_LEVEL)
                .map_err(too_long)?;
        let mut canvas = Canvas::new(version, QR_EC_LEVEL);
        canvas.draw_all_functional_patterns();
        canvas.draw_data(&data, &error_correction);

        // The mask is chosen here rather than by `Canvas::apply_best_mask`, whose penalty scoring
        // took about 4 ms for a DCC in the benchmark, most of the time of a whole PDF.
        let width = usize::try_from(version.width())
            .map_err(|_| FormatError::Encode(format!("invalid QR code version {version:?}")))?;
        if width > MAX_SCORED_WIDTH {
            return Err(FormatError::Encode(format!(
                "the 2D code needs a QR code {width} modules wide; at most {MAX_SCORED_WIDTH} are supported"
            )));
        }
        let mut best: Option<(u32, Vec<u128>)> = None;
        let mut columns = vec![0u128; width];
        for mask in MASKS {
            let mut masked = canvas.clone();
            masked.apply_mask(mask);
            let colors = masked.into_colors();
            let rows: Vec<u128> = colors
                .chunks(width)
                .map(|modules| {
                    modules
                        .iter()
                        .enumerate()
                        .fold(0, |line, (column, &color)| {
                            line | (u128::from(color == Color::Dark) << column)
                        })
                })
                .collect();
            for (column, bits) in columns.iter_mut().enumerate() {
                *bits = rows.iter().enumerate().fold(0, |line, (row, &modules)| {
                    line | (((modules >> column) & 1) << row)
                });
            }
            let score = penalty(&rows, &columns, width);
            if best.as_ref().is_none_or(|(lowest, _)| score < *lowest) {
                best = Some((score, rows));
            }
        }
        let rows = best.map(|(_, rows)| rows).unwrap_or_default();
        Ok(Self {
            width,
            runs: dark_runs(&rows, width),
        })
    }

    /// Fills the dark modules in the square at `(x, y)` with sides of `side` points, in the current
    /// fill. The four-module quiet zone around it is left to the layout.
    pub fn draw(&self, surface: &mut Surface<'_>, x: f32, y: f32, side: f32) {
        let module = side / self.width as f32;
        let mut path = PathBuilder::new();
        // Drawn in module units, so the content stream contains small integers instead of long
        // decimals, which makes it less than half the size.
        for &(row, start, length) in &self.runs {
            if let Some(rect) = Rect::from_xywh(start as f32, row as f32, length as f32, 1.0) {
                path.push_rect(rect);
            }
        }
        if let Some(path) = path.finish() {
            surface.push_transform(&Transform::from_row(module, 0.0, 0.0, module, x, y));
            surface.draw_path(&path);
            surface.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a matrix with rqrr, a reader independent of the `qrcode` crate.
    fn read(matrix: &QrMatrix) -> String {
        let scale = 4;
        let quiet = 4;
        let side = (matrix.width + 2 * quiet) * scale;
        let mut dark = vec![false; side * side];
        for &(row, start, length) in &matrix.runs {
            for column in start..start + length {
                for dy in 0..scale {
                    for dx in 0..scale {
                        let y = (row + quiet) * scale + dy;
                        let x = (column + quiet) * scale + dx;
                        dark[y * side + x] = true;
                    }
                }
            }
        }
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
            if dark[y * side + x] {
                0
            } else {
                255
            }
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "QR codes found");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn matrix_reads_back() {
        for payload in [
            "HC1:TEST",
            "INTYG1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B",
        ] {
            let matrix = QrMatrix::encode(payload).unwrap();
            assert_eq!(read(&matrix), payload);
        }
    }

    #[test]
    fn matrix_uses_alphanumeric_size() {
        // 590 Base45 characters, the longest DCC test vector, need version 19 at level Q in
        // alphanumeric mode, and a larger version in byte mode.
        let matrix = QrMatrix::encode(&"A".repeat(590)).unwrap();
        assert_eq!(matrix.width, 17 + 4 * 19);
    }

    /// Packs modules into a line, bit `i` for module `i`.
    fn bits(modules: &[bool]) -> u128 {
        modules
            .iter()
            .enumerate()
            .fold(0, |line, (index, &dark)| line | (u128::from(dark) << index))
    }

    #[test]
    fn line_penalty_counts_long_runs() {
        assert_eq!(line_penalty(bits(&[true; 4]), 4), 0);
        assert_eq!(line_penalty(bits(&[true; 5]), 5), 3);
        assert_eq!(line_penalty(bits(&[true; 7]), 7), 5);
    }

    #[test]
    fn line_penalty_counts_finder_sides() {
        let core = [true, false, true, true, true, false, true];
        // The end of the line is quiet zone, so both sides are light.
        assert_eq!(line_penalty(bits(&core), core.len()), 80);

        let mut light_before_only = core.to_vec();
        light_before_only.extend([true, false, true, false]);
        assert_eq!(
            line_penalty(bits(&light_before_only), light_before_only.len()),
            40
        );

        let mut dark_sides = vec![true, false, true, false];
        dark_sides.extend(core);
        dark_sides.extend([true, false, true, false]);
        assert_eq!(line_penalty(bits(&dark_sides), dark_sides.len()), 0);
    }

    /// The four penalty rules written module by module, to check the bit-parallel version.
    fn reference_penalty(dark: &[bool], width: usize) -> u32 {
        let line_score = |line: Vec<bool>| {
            let mut score = 0;
            let mut run = 0;
            let mut previous = None;
            for &module in &line {
                run = if previous == Some(module) { run + 1 } else { 1 };
                previous = Some(module);
                if run == 5 {
                    score += 3;
                } else if run > 5 {
                    score += 1;
                }
            }
            let mut padded = vec![false; 4];
            padded.extend(&line);
            padded.extend([false; 4]);
            for start in 0..padded.len().saturating_sub(10) {
                let window = &padded[start..start + 11];
                score +=
                    40 * u32::from(window == FINDER_LIGHT_BEFORE || window == FINDER_LIGHT_AFTER);
            }
            score
        };
        let mut score = 0;
        for row in 0..width {
            score += line_score(
                (0..width)
                    .map(|column| dark[row * width + column])
                    .collect(),
            );
        }
        for column in 0..width {
            score += line_score((0..width).map(|row| dark[row * width + column]).collect());
        }
        for row in 0..width - 1 {
            for column in 0..width - 1 {
                let color = dark[row * width + column];
                let block = dark[row * width + column + 1] == color
                    && dark[(row + 1) * width + column] == color
                    && dark[(row + 1) * width + column + 1] == color;
                score += 3 * u32::from(block);
            }
        }
        let dark_count = dark.iter().filter(|&&module| module).count();
        let deviation = (dark_count * 100 / dark.len()).abs_diff(50) / 5;
        score + 10 * deviation as u32
    }

    #[test]
    fn penalty_matches_module_by_module_rules() {
        // A fixed linear congruential generator, so the matrices are the same on every run.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for width in [21, 25, 57, 85, 117] {
            for density in [2, 4, 7] {
                let dark: Vec<bool> = (0..width * width)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        (state >> 60) < density
                    })
                    .collect();
                let mut rows = vec![0u128; width];
                let mut columns = vec![0u128; width];
                for (index, &module) in dark.iter().enumerate() {
                    if module {
                        rows[index / width] |= 1 << (index % width);
                        columns[index % width] |= 1 << (index / width);
                    }
                }
                assert_eq!(
                    penalty(&rows, &columns, width),
                    reference_penalty(&dark, width),
                    "width {width}, density {density}"
                );
            }
        }
    }
}
