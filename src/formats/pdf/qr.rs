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

/// Scores a masked symbol by the four penalty rules of ISO/IEC 18004, where lower is easier to
/// read. The rules penalise runs of five or more modules of one colour, 2 by 2 blocks of one
/// colour, patterns that look like a finder pattern, and a dark share far from half.
fn penalty(dark: &[bool], width: usize) -> u32 {
    let rows = dark
        .chunks(width)
        .map(|row| line_penalty(row.iter().copied()));
    let columns =
        (0..width).map(|column| line_penalty((0..width).map(|row| dark[row * width + column])));
    let mut score: u32 = rows.chain(columns).sum();

    for (upper, lower) in dark.chunks(width).zip(dark.chunks(width).skip(1)) {
        for column in 0..width - 1 {
            let color = upper[column];
            // `&` rather than `&&`, so the comparison does not branch.
            let block = (upper[column + 1] == color)
                & (lower[column] == color)
                & (lower[column + 1] == color);
            score += 3 * u32::from(block);
        }
    }

    let dark_count = dark.iter().filter(|&&module| module).count();
    let percent = dark_count * 100 / dark.len().max(1);
    let deviation = percent.abs_diff(50) / 5;
    score + 10 * u32::try_from(deviation).unwrap_or(u32::MAX / 20)
}

/// Scores one row or column. A run of one colour scores 3 at five modules and 1 more for each
/// module beyond. A dark-light-dark-dark-dark-light-dark sequence, which a reader could take for
/// a finder pattern, scores 40 for each side with four light modules. Modules outside the symbol
/// count as light, because the quiet zone is light.
fn line_penalty(line: impl Iterator<Item = bool>) -> u32 {
    /// The last 11 modules, oldest in the highest bit: 4 light, then the finder-like sequence.
    const LIGHT_BEFORE: u32 = 0b000_0101_1101;
    /// The finder-like sequence, then 4 light.
    const LIGHT_AFTER: u32 = 0b101_1101_0000;

    // Written without branches on the module colours, which are close to random after masking,
    // so the loop does not stall on mispredicted branches.
    let mut score = 0;
    let mut run = 0;
    let mut previous = None;
    let mut window: u32 = 0;
    let mut shift = |module: bool, score: &mut u32| {
        window = ((window << 1) | u32::from(module)) & 0x7ff;
        *score += 40 * (u32::from(window == LIGHT_BEFORE) + u32::from(window == LIGHT_AFTER));
    };
    for module in line {
        run = if previous == Some(module) { run + 1 } else { 1 };
        previous = Some(module);
        score += 3 * u32::from(run == 5) + u32::from(run > 5);
        shift(module, &mut score);
    }
    for _ in 0..4 {
        shift(false, &mut score);
    }
    score
}

/// Collects the horizontal runs of dark modules, row by row.
fn dark_runs(dark: &[bool], width: usize) -> Vec<(usize, usize, usize)> {
    let mut runs = Vec::new();
    for (row, modules) in dark.chunks(width).enumerate() {
        let mut column = 0;
        while column < width {
            if !modules[column] {
                column += 1;
                continue;
            }
            let start = column;
            while column < width && modules[column] {
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
        let mut best: Option<(u32, Vec<bool>)> = None;
        for mask in MASKS {
            let mut masked = canvas.clone();
            masked.apply_mask(mask);
            let dark: Vec<bool> = masked
                .into_colors()
                .into_iter()
                .map(|color| color == Color::Dark)
                .collect();
            let score = penalty(&dark, width);
            if best.as_ref().is_none_or(|(lowest, _)| score < *lowest) {
                best = Some((score, dark));
            }
        }
        let dark = best.map(|(_, dark)| dark).unwrap_or_default();
        Ok(Self {
            width,
            runs: dark_runs(&dark, width),
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

    #[test]
    fn line_penalty_counts_long_runs() {
        assert_eq!(line_penalty([true; 4].into_iter()), 0);
        assert_eq!(line_penalty([true; 5].into_iter()), 3);
        assert_eq!(line_penalty([true; 7].into_iter()), 5);
    }

    #[test]
    fn line_penalty_counts_finder_sides() {
        let core = [true, false, true, true, true, false, true];
        // The end of the line is quiet zone, so both sides are light.
        assert_eq!(line_penalty(core.into_iter()), 80);

        let mut light_before_only = core.to_vec();
        light_before_only.extend([true, false, true, false]);
        assert_eq!(line_penalty(light_before_only.into_iter()), 40);

        let mut dark_sides = vec![true, false, true, false];
        dark_sides.extend(core);
        dark_sides.extend([true, false, true, false]);
        assert_eq!(line_penalty(dark_sides.into_iter()), 0);
    }
}
