//! The QR code of a credential offer link, as PNG and SVG, for the e-service to show the holder.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module in the PNG.
const PNG_MODULE_PIXELS: usize = 8;
/// Modules of light margin around the code (ISO/IEC 18004 requires four).
const QUIET_ZONE: usize = 4;

/// Failure to draw a QR code.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the link does not fit a QR code: {0}")]
    TooLong(String),
    #[error("cannot encode the PNG: {0}")]
    Png(String),
}

/// A QR code's modules, row by row, `true` for dark.
struct Matrix {
    width: usize,
    dark: Vec<bool>,
}

fn matrix(text: &str) -> Result<Matrix, QrError> {
    // Level M: the link is shown on a screen, where damage is rare, and a lower level keeps the
    // modules large.
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|error| QrError::TooLong(error.to_string()))?;
    Ok(Matrix {
        width: code.width(),
        dark: code
            .to_colors()
            .into_iter()
            .map(|color| color == Color::Dark)
            .collect(),
    })
}

/// Draws `text` as an SVG QR code, one path for the dark modules.
pub fn svg(text: &str) -> Result<String, QrError> {
    let matrix = matrix(text)?;
    let size = matrix.width + 2 * QUIET_ZONE;
    let mut path = String::new();
    for (index, dark) in matrix.dark.iter().enumerate() {
        if *dark {
            let x = index % matrix.width + QUIET_ZONE;
            let y = index / matrix.width + QUIET_ZONE;
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##
    ))
}

/// Draws `text` as a grayscale PNG QR code.
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let matrix = matrix(text)?;
    let side = (matrix.width + 2 * QUIET_ZONE) * PNG_MODULE_PIXELS;
    let mut pixels = vec![255u8; side * side];
    for (index, dark) in matrix.dark.iter().enumerate() {
        if !*dark {
            continue;
        }
        let left = (index % matrix.width + QUIET_ZONE) * PNG_MODULE_PIXELS;
        let top = (index / matrix.width + QUIET_ZONE) * PNG_MODULE_PIXELS;
        for row in top..top + PNG_MODULE_PIXELS {
            pixels[row * side + left..row * side + left + PNG_MODULE_PIXELS].fill(0);
        }
    }
    let side = u32::try_from(side).map_err(|error| QrError::Png(error.to_string()))?;
    let mut output = Vec::new();
    let mut encoder = png::Encoder::new(&mut output, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|error| QrError::Png(error.to_string()))?;
    writer
        .write_image_data(&pixels)
        .map_err(|error| QrError::Png(error.to_string()))?;
    writer
        .finish()
        .map_err(|error| QrError::Png(error.to_string()))?;
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fintyg.example.se%2Foffers%2Fabc";

    #[test]
    fn png_decodes_to_link() {
        let bytes = png(LINK).unwrap();
        let decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let width = info.width as usize;
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(width, info.height as usize, |x, y| {
                pixels[y * width + x]
            });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, LINK);
    }

    #[test]
    fn svg_has_path() {
        let svg = svg(LINK).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("<path d=\"M"));
    }
}
