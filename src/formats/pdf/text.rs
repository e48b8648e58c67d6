//! The PDF's fonts and text: DejaVu Sans, shipped in `assets/fonts/` with its license, mapped
//! from characters to glyphs and measured here, so lines can be wrapped before they are drawn.
//!
//! Each character maps to one glyph with its advance width and no kerning, which is enough for
//! the Latin text of a certificate. Characters the font lacks are drawn as its `.notdef` glyph.

use std::sync::OnceLock;

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

use super::FormatError;

static REGULAR_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// One font face: the font krilla embeds and the tables that map and measure its glyphs.
pub(super) struct Face {
    pub font: Font,
    charmap: skrifa::charmap::Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
}

/// The two faces of the PDF.
pub(super) struct Fonts {
    pub regular: Face,
    pub bold: Face,
}

/// Returns the shipped fonts, parsed once per process.
pub(super) fn fonts() -> Result<&'static Fonts, FormatError> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            Some(Fonts {
                regular: Face::load(REGULAR_TTF)?,
                bold: Face::load(BOLD_TTF)?,
            })
        })
        .as_ref()
        .ok_or_else(|| {
            FormatError::Encode("the fonts shipped in assets/fonts/ cannot be parsed".into())
        })
}

impl Face {
    fn load(data: &'static [u8]) -> Option<Self> {
        let font_ref = FontRef::new(data).ok()?;
        let units_per_em = f32::from(
            font_ref
                .metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        if units_per_em <= 0.0 {
            return None;
        }
        Some(Self {
            font: Font::new(data.into(), 0)?,
            charmap: font_ref.charmap(),
            metrics: font_ref.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em,
        })
    }

    /// Maps `text` to glyphs, one a character, with advances in em units as krilla expects.
    pub fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(start, character)| {
                let glyph = self.charmap.map(character).unwrap_or_default();
                KrillaGlyph::new(
                    GlyphId::new(glyph.to_u32()),
                    self.advance(glyph),
                    0.0,
                    0.0,
                    0.0,
                    start..start + character.len_utf8(),
                    None,
                )
            })
            .collect()
    }

    /// Returns the width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|character| self.advance(self.charmap.map(character).unwrap_or_default()))
            .sum::<f32>()
            * size
    }

    fn advance(&self, glyph: skrifa::GlyphId) -> f32 {
        self.metrics.advance_width(glyph).unwrap_or(0.0) / self.units_per_em
    }

    /// Breaks `text` into lines no wider than `max_width` points at `size`: at spaces where it can,
    /// and inside a word that is wider than a line on its own.
    pub fn wrap(&self, text: &str, size: f32, max_width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.lines() {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size) <= max_width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                line = self.break_word(word, size, max_width, &mut lines);
            }
            lines.push(line);
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
        lines
    }

    /// Pushes full-width pieces of `word` onto `lines` and returns the rest, which fits a line.
    fn break_word(&self, word: &str, size: f32, max_width: f32, lines: &mut Vec<String>) -> String {
        let mut piece = String::new();
        for character in word.chars() {
            piece.push(character);
            if self.width(&piece, size) > max_width && piece.chars().count() > 1 {
                piece.pop();
                lines.push(std::mem::take(&mut piece));
                piece.push(character);
            }
        }
        piece
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swedish_letters_have_glyphs() {
        let fonts = fonts().unwrap();
        for face in [&fonts.regular, &fonts.bold] {
            for character in "åäöÅÄÖé".chars() {
                assert!(
                    face.charmap.map(character).is_some(),
                    "no glyph for {character}"
                );
            }
        }
    }

    #[test]
    fn wrap_respects_width() {
        let face = &fonts().unwrap().regular;
        let text = "Innehavare av godkännande för försäljning eller tillverkare";
        let lines = face.wrap(text, 10.0, 120.0);
        assert!(lines.len() > 1, "{lines:?}");
        for line in &lines {
            assert!(face.width(line, 10.0) <= 120.0, "{line:?} is too wide");
        }
        assert_eq!(lines.join(" "), text);
    }

    #[test]
    fn wrap_breaks_long_word() {
        let face = &fonts().unwrap().regular;
        let word = "URN:UVCI:01:SE:EHM/V100000024GI5HM";
        let lines = face.wrap(word, 10.0, 60.0);
        assert!(lines.len() > 1, "{lines:?}");
        for line in &lines {
            assert!(face.width(line, 10.0) <= 60.0, "{line:?} is too wide");
        }
        assert_eq!(lines.concat(), word);
    }
}
