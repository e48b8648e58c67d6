//! The QR code of the 2D code payload, drawn as filled vector rectangles so it stays sharp at
//! any print or screen resolution.

use krilla::geom::{PathBuilder, Rect};
use krilla::surface::Surface;
use qrcode::{Color, QrCode};

use super::FormatError;
use crate::formats::hcert::QR_EC_LEVEL;

/// The dark modules of a QR code, as runs within rows.
pub(super) struct QrMatrix {
    /// Modules a side, without the quiet zone.
    pub width: usize,
    /// `(row, first column, length)` of each horizontal run of dark modules.
    runs: Vec<(usize, usize, usize)>,
}

impl QrMatrix {
    /// Encodes `payload` at error correction level Q. A Base45 payload stays in alphanumeric mode,
    /// because the `qrcode` crate picks the mode from the characters.
    pub fn encode(payload: &str) -> Result<Self, FormatError> {
        let code = QrCode::with_error_correction_level(payload.as_bytes(), QR_EC_LEVEL).map_err(
            |error| FormatError::Encode(format!("the 2D code does not fit a QR code: {error}")),
        )?;
        let width = code.width();
        let colors = code.to_colors();
        let mut runs = Vec::new();
        for (row, modules) in colors.chunks(width).enumerate() {
            let mut column = 0;
            while column < width {
                if modules[column] != Color::Dark {
                    column += 1;
                    continue;
                }
                let start = column;
                while column < width && modules[column] == Color::Dark {
                    column += 1;
                }
                runs.push((row, start, column - start));
            }
        }
        Ok(Self { width, runs })
    }

    /// Fills the dark modules in the square at `(x, y)` with sides of `side` points, in the current
    /// fill. The four-module quiet zone around it is left to the layout.
    pub fn draw(&self, surface: &mut Surface<'_>, x: f32, y: f32, side: f32) {
        let module = side / self.width as f32;
        let mut path = PathBuilder::new();
        for &(row, start, length) in &self.runs {
            if let Some(rect) = Rect::from_xywh(
                x + start as f32 * module,
                y + row as f32 * module,
                length as f32 * module,
                module,
            ) {
                path.push_rect(rect);
            }
        }
        if let Some(path) = path.finish() {
            surface.draw_path(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_dark_modules() {
        let matrix = QrMatrix::encode("HC1:TEST").unwrap();
        let code = QrCode::with_error_correction_level(b"HC1:TEST", QR_EC_LEVEL).unwrap();
        let dark = code
            .to_colors()
            .iter()
            .filter(|c| **c == Color::Dark)
            .count();
        let covered: usize = matrix.runs.iter().map(|&(_, _, length)| length).sum();
        assert_eq!(covered, dark);
        assert_eq!(matrix.width, code.width());
    }
}
