//! The downloadable PDF for a holder without a wallet. Its A4 pages show the type's name and
//! description, the holder, validity, issuer, certificate id and every claim, and the signed 2D
//! code as a QR code. Each text is in Swedish with English beside it.
//!
//! The output depends only on the issuance and the payload. The creation date is the issuance
//! time and the document id is the certificate id, so the same input gives the same bytes.

mod qr;
mod text;

use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule};
use krilla::surface::Surface;
use krilla::{Document, SerializeSettings};
use time::OffsetDateTime;

use self::qr::QrMatrix;
use self::text::{Face, Fonts};
use super::claims::{self, Label, Row};
use super::{hcert, FormatError, Issuance};
use crate::crypto::Signer;

/// Points in a millimetre.
const MM: f32 = 72.0 / 25.4;
const PAGE_WIDTH: f32 = 210.0 * MM;
const PAGE_HEIGHT: f32 = 297.0 * MM;
/// The left and right margin.
const MARGIN_X: f32 = 20.0 * MM;
/// The top and bottom margin.
const MARGIN_Y: f32 = 15.0 * MM;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN_X;
/// The side of the QR code without its quiet zone.
/// NOTE: HCERT recommends a diagonal of 35 to 60 mm for readers with fixed optics. This square
/// (a 71 mm diagonal) is sized for phone cameras and may be too large for such readers.
const QR_SIDE: f32 = 50.0 * MM;
/// The space left of the QR code, wider than its four-module quiet zone at any version.
const QR_GAP: f32 = 8.0 * MM;
/// Space kept free at the bottom of every page for the footer.
const FOOTER_HEIGHT: f32 = 14.0 * MM;
/// Indentation of each nesting level in the claims table.
const INDENT: f32 = 4.0 * MM;
const ROW_GAP: f32 = 3.0;

/// Issues the PDF of one certificate: signs its 2D code and renders the page.
pub fn issue(issuance: &Issuance<'_>, signer: &dyn Signer) -> Result<Vec<u8>, FormatError> {
    let payload = hcert::issue(issuance, signer)?;
    render(issuance, &payload)
}

/// Renders the PDF of a certificate whose 2D code `payload` is already signed.
pub fn render(issuance: &Issuance<'_>, payload: &str) -> Result<Vec<u8>, FormatError> {
    let fonts = text::fonts()?;
    let qr = QrMatrix::encode(payload)?;
    let pages = lay_out(issuance, fonts);
    draw(issuance, fonts, &qr, &pages)
}

/// The typographic styles of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Title,
    TitleEnglish,
    Text,
    TextEnglish,
    Heading,
    HeadingEnglish,
    Label,
    LabelEnglish,
    Value,
    Small,
    SmallEnglish,
}

impl Style {
    /// Returns whether the style is bold, its size and line height in points, and its grey level.
    fn metrics(self) -> (bool, f32, f32, u8) {
        const BLACK: u8 = 0;
        const GREY: u8 = 0x55;
        match self {
            Style::Title => (true, 18.0, 22.0, BLACK),
            Style::TitleEnglish => (false, 13.0, 17.0, GREY),
            Style::Text => (false, 9.5, 12.5, BLACK),
            Style::TextEnglish => (false, 9.0, 12.0, GREY),
            Style::Heading => (true, 11.0, 15.0, BLACK),
            Style::HeadingEnglish => (false, 11.0, 15.0, GREY),
            Style::Label => (true, 8.5, 10.0, BLACK),
            Style::LabelEnglish => (false, 8.0, 9.5, GREY),
            Style::Value => (false, 10.0, 13.0, BLACK),
            Style::Small => (false, 8.0, 10.5, BLACK),
            Style::SmallEnglish => (false, 8.0, 10.5, GREY),
        }
    }

    fn size(self) -> f32 {
        self.metrics().1
    }

    fn line_height(self) -> f32 {
        self.metrics().2
    }

    fn face(self, fonts: &Fonts) -> &Face {
        if self.metrics().0 {
            &fonts.bold
        } else {
            &fonts.regular
        }
    }
}

/// Something placed on a page; `y` grows downwards from the top edge.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Text {
        x: f32,
        baseline: f32,
        style: Style,
        text: String,
    },
    /// A thin horizontal rule.
    Rule { x: f32, y: f32, width: f32 },
    /// The QR code at its top-left corner.
    Qr { x: f32, y: f32 },
}

/// Places items on pages from top to bottom, starting a page when the current one is full.
struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<Item>>,
    y: f32,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts) -> Self {
        Self {
            fonts,
            pages: vec![Vec::new()],
            y: MARGIN_Y,
        }
    }

    fn push(&mut self, item: Item) {
        if let Some(page) = self.pages.last_mut() {
            page.push(item);
        }
    }

    /// Starts a new page unless `height` points still fit above the footer.
    fn reserve(&mut self, height: f32) {
        if self.y + height > PAGE_HEIGHT - MARGIN_Y - FOOTER_HEIGHT && self.y > MARGIN_Y {
            self.pages.push(Vec::new());
            self.y = MARGIN_Y;
        }
    }

    fn wrap(&self, style: Style, text: &str, width: f32) -> Vec<String> {
        style.face(self.fonts).wrap(text, style.size(), width)
    }

    /// Places wrapped lines from `top` and returns the height they take.
    fn place_lines(&mut self, x: f32, top: f32, style: Style, lines: Vec<String>) -> f32 {
        let mut height = 0.0;
        for line in lines {
            height += style.line_height();
            if !line.is_empty() {
                self.push(Item::Text {
                    x,
                    baseline: top + height - (style.line_height() - style.size()),
                    style,
                    text: line,
                });
            }
        }
        height
    }

    /// Places a paragraph at the cursor and moves the cursor below it.
    fn paragraph(&mut self, x: f32, width: f32, style: Style, text: &str) {
        let lines = self.wrap(style, text, width);
        self.reserve(lines.len() as f32 * style.line_height());
        self.y += self.place_lines(x, self.y, style, lines);
    }

    /// Places the Swedish text, then the English after a slash on the same line when both fit,
    /// and on the next line otherwise.
    fn pair(&mut self, x: f32, width: f32, styles: (Style, Style), label: &Label) {
        let (swedish, english) = styles;
        let together = format!("{} / {}", label.sv, label.en);
        let fits = label.en.is_empty()
            || swedish.face(self.fonts).width(&together, swedish.size()) <= width;
        if fits {
            self.reserve(swedish.line_height());
            let top = self.y;
            self.place_lines(x, top, swedish, vec![label.sv.clone()]);
            if !label.en.is_empty() {
                let offset = swedish.face(self.fonts).width(&label.sv, swedish.size());
                let rest = format!(" / {}", label.en);
                self.place_lines(x + offset, top, english, vec![rest]);
            }
            self.y += swedish.line_height();
        } else {
            self.paragraph(x, width, swedish, &label.sv);
            self.paragraph(x, width, english, &label.en);
        }
    }

    /// Places a row of a two-column table: the label in Swedish above English on the left,
    /// the value on the right, or for a heading, the label across both columns.
    fn row(&mut self, x: f32, width: f32, label_width: f32, row: &Row) {
        let indent = row.depth as f32 * INDENT;
        let Some(value) = &row.value else {
            self.y += ROW_GAP / 2.0;
            self.pair(
                x + indent,
                width - indent,
                (Style::Label, Style::LabelEnglish),
                &row.label,
            );
            return;
        };

        let label_lines = self.wrap(Style::Label, &row.label.sv, label_width - indent - 6.0);
        let english_lines = if row.label.en.is_empty() {
            Vec::new()
        } else {
            self.wrap(
                Style::LabelEnglish,
                &row.label.en,
                label_width - indent - 6.0,
            )
        };
        let value_lines = self.wrap(Style::Value, value, width - label_width);
        let label_height = label_lines.len() as f32 * Style::Label.line_height()
            + english_lines.len() as f32 * Style::LabelEnglish.line_height();
        let value_height = value_lines.len() as f32 * Style::Value.line_height();
        self.reserve(label_height.max(value_height) + ROW_GAP);

        let top = self.y;
        let swedish_height = self.place_lines(x + indent, top, Style::Label, label_lines);
        self.place_lines(
            x + indent,
            top + swedish_height,
            Style::LabelEnglish,
            english_lines,
        );
        self.place_lines(x + label_width, top, Style::Value, value_lines);
        self.y = top + label_height.max(value_height) + ROW_GAP;
    }

    fn rule(&mut self, x: f32, width: f32) {
        self.y += 3.0 * MM;
        self.reserve(3.0 * MM);
        let y = self.y;
        self.push(Item::Rule { x, y, width });
        self.y += 3.0 * MM;
    }
}

/// Lays out every page: title, holder and validity beside the QR code, then the claims table.
fn lay_out(issuance: &Issuance<'_>, fonts: &Fonts) -> Vec<Vec<Item>> {
    let certificate_type = issuance.certificate_type;
    let mut layout = Layout::new(fonts);
    let left_width = CONTENT_WIDTH - QR_SIDE - QR_GAP;

    let qr_x = PAGE_WIDTH - MARGIN_X - QR_SIDE;
    layout.push(Item::Qr {
        x: qr_x,
        y: MARGIN_Y,
    });
    layout.y = MARGIN_Y + QR_SIDE + 2.0 * MM;
    layout.paragraph(
        qr_x,
        QR_SIDE,
        Style::Small,
        "Skanna koden för att kontrollera intyget.",
    );
    layout.paragraph(
        qr_x,
        QR_SIDE,
        Style::SmallEnglish,
        "Scan the code to verify the certificate.",
    );
    let qr_bottom = layout.y;

    layout.y = MARGIN_Y;
    let swedish = certificate_type.display_for("sv");
    let english = certificate_type.display_for("en");
    layout.paragraph(MARGIN_X, left_width, Style::Title, &swedish.name);
    layout.paragraph(MARGIN_X, left_width, Style::TitleEnglish, &english.name);
    layout.y += 2.0 * MM;
    if let Some(description) = &swedish.description {
        layout.paragraph(MARGIN_X, left_width, Style::Text, description);
    }
    if let Some(description) = &english.description {
        layout.paragraph(MARGIN_X, left_width, Style::TextEnglish, description);
    }

    let label_width = 42.0 * MM;
    layout.rule(MARGIN_X, left_width);
    for row in holder_rows(issuance) {
        layout.row(MARGIN_X, left_width, label_width, &row);
    }
    layout.rule(MARGIN_X, left_width);
    for row in validity_rows(issuance) {
        layout.row(MARGIN_X, left_width, label_width, &row);
    }

    layout.y = layout.y.max(qr_bottom);
    layout.rule(MARGIN_X, CONTENT_WIDTH);
    layout.pair(
        MARGIN_X,
        CONTENT_WIDTH,
        (Style::Heading, Style::HeadingEnglish),
        &Label::new("Uppgifter i intyget", "Certificate details"),
    );
    layout.y += 2.0 * MM;
    for row in claims::rows(certificate_type, issuance.claims) {
        layout.row(MARGIN_X, CONTENT_WIDTH, 70.0 * MM, &row);
    }
    layout.pages
}

/// Returns the holder's name and date of birth, read from the OpenID Connect claim names
/// (`given_name`, `family_name`, `birthdate`) or the DCC ones (`nam.gn`, `nam.fn`, `dob`).
fn holder_rows(issuance: &Issuance<'_>) -> Vec<Row> {
    let claim = |path: &[&str]| -> Option<&str> {
        let mut value = issuance.claims.get(path[0])?;
        for name in &path[1..] {
            value = value.get(name)?;
        }
        value.as_str().filter(|text| !text.is_empty())
    };
    let given_name = claim(&["given_name"])
        .or_else(|| claim(&["nam", "gn"]))
        .or_else(|| claim(&["nam", "gnt"]));
    let family_name = claim(&["family_name"])
        .or_else(|| claim(&["nam", "fn"]))
        .or_else(|| claim(&["nam", "fnt"]));
    let birth_date = claim(&["birthdate"]).or_else(|| claim(&["dob"]));

    let mut rows = Vec::new();
    let name: Vec<&str> = [given_name, family_name].into_iter().flatten().collect();
    if !name.is_empty() {
        rows.push(field("Namn", "Name", name.join(" ")));
    }
    if let Some(birth_date) = birth_date {
        rows.push(field(
            "Födelsedatum",
            "Date of birth",
            birth_date.to_owned(),
        ));
    }
    rows
}

fn validity_rows(issuance: &Issuance<'_>) -> Vec<Row> {
    vec![
        field("Utfärdat", "Issued", display_time(issuance.issued_at)),
        field(
            "Giltigt från",
            "Valid from",
            display_time(issuance.valid_from),
        ),
        field(
            "Giltigt till",
            "Valid until",
            display_time(issuance.valid_until),
        ),
        field("Utfärdare", "Issuer", issuance.issuer.to_owned()),
        field(
            "Intygs-id",
            "Certificate ID",
            issuance.certificate_id.to_owned(),
        ),
    ]
}

fn field(swedish: &str, english: &str, value: String) -> Row {
    Row {
        label: Label::new(swedish, english),
        value: Some(value),
        depth: 0,
    }
}

/// Formats a time as `2026-12-04 10:00 UTC`, which reads the same in Swedish and English.
fn display_time(time: OffsetDateTime) -> String {
    let time = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute()
    )
}

/// Draws the laid-out pages, with the footer and page number on each, into a PDF.
fn draw(
    issuance: &Issuance<'_>,
    fonts: &Fonts,
    qr: &QrMatrix,
    pages: &[Vec<Item>],
) -> Result<Vec<u8>, FormatError> {
    // Content streams stay uncompressed: deflating the QR code's path costs several times the
    // rest of the rendering, and the page grows by only about 60 KB. Fonts are still compressed.
    let settings = SerializeSettings {
        compress_content_streams: false,
        ..SerializeSettings::default()
    };
    let mut document = Document::new_with(settings);
    document.set_metadata(metadata(issuance));
    let page_count = pages.len();
    for (index, items) in pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
            .ok_or_else(|| FormatError::Encode("invalid page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        for item in items {
            draw_item(&mut surface, fonts, qr, item);
        }
        for item in footer(fonts, index + 1, page_count) {
            draw_item(&mut surface, fonts, qr, &item);
        }
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|error| FormatError::Encode(format!("the PDF cannot be written: {error:?}")))
}

/// Returns the footer of a page: what the signature protects, and the page number.
fn footer(fonts: &Fonts, page: usize, page_count: usize) -> Vec<Item> {
    let mut layout = Layout::new(fonts);
    let top = PAGE_HEIGHT - MARGIN_Y - FOOTER_HEIGHT + 3.0 * MM;
    layout.push(Item::Rule {
        x: MARGIN_X,
        y: top - 2.0 * MM,
        width: CONTENT_WIDTH,
    });
    let swedish = format!("QR-koden är elektroniskt signerad av utfärdaren, och en ändrad uppgift gör signaturen ogiltig. Sida {page} av {page_count}.");
    let english = format!("The QR code is electronically signed by the issuer, and any change to the data invalidates the signature. Page {page} of {page_count}.");
    // Placed directly rather than with `paragraph`, which would start a new page in the footer.
    let lines = layout.wrap(Style::Small, &swedish, CONTENT_WIDTH);
    let height = layout.place_lines(MARGIN_X, top, Style::Small, lines);
    let lines = layout.wrap(Style::SmallEnglish, &english, CONTENT_WIDTH);
    layout.place_lines(MARGIN_X, top + height, Style::SmallEnglish, lines);
    layout.pages.into_iter().flatten().collect()
}

fn draw_item(surface: &mut Surface<'_>, fonts: &Fonts, qr: &QrMatrix, item: &Item) {
    match item {
        Item::Text {
            x,
            baseline,
            style,
            text,
        } => {
            let (_, size, _, grey) = style.metrics();
            surface.set_fill(Some(fill(grey)));
            let face = style.face(fonts);
            surface.draw_glyphs(
                Point::from_xy(*x, *baseline),
                &face.glyphs(text),
                face.font.clone(),
                text,
                size,
                false,
            );
        }
        Item::Rule { x, y, width } => {
            surface.set_fill(Some(fill(0xaa)));
            let mut path = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(*x, *y, *width, 0.5) {
                path.push_rect(rect);
            }
            if let Some(path) = path.finish() {
                surface.draw_path(&path);
            }
        }
        Item::Qr { x, y } => {
            surface.set_fill(Some(fill(0)));
            qr.draw(surface, *x, *y, QR_SIDE);
        }
    }
}

fn fill(grey: u8) -> Fill {
    Fill {
        paint: luma::Color::new(grey).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

fn metadata(issuance: &Issuance<'_>) -> Metadata {
    let issued_at = issuance.issued_at.to_offset(time::UtcOffset::UTC);
    let year = u16::try_from(issued_at.year()).unwrap_or_default();
    let creation_date = DateTime::new(year)
        .month(u8::from(issued_at.month()))
        .day(issued_at.day())
        .hour(issued_at.hour())
        .minute(issued_at.minute())
        .second(issued_at.second())
        .utc_offset_hour(0)
        .utc_offset_minute(0);
    let title = issuance.certificate_type.display_for("sv").name.clone();
    Metadata::new()
        .title(title)
        .language("sv".into())
        .creator("intyg".into())
        .creation_date(creation_date)
        .document_id(issuance.certificate_id.to_owned())
}

/// Returns the text of every item, in page order, for tests that check what a page contains.
#[cfg(test)]
fn texts(pages: &[Vec<Item>]) -> Vec<&str> {
    pages
        .iter()
        .flatten()
        .filter_map(|item| match item {
            Item::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};
    use time::macros::datetime;

    use super::*;
    use crate::certificate::CertificateType;
    use crate::formats::test_support::{certificate_type, personbevis_claims};

    /// Returns a personbevis issuance with fixed times, borrowing the type and claims.
    fn issuance<'a>(
        certificate_type: &'a CertificateType,
        claims: &'a Map<String, Value>,
        certificate_id: &'a str,
    ) -> Issuance<'a> {
        Issuance {
            certificate_type,
            claims,
            issuer: "https://intyg.example",
            certificate_id,
            issued_at: datetime!(2026-12-04 10:00 UTC),
            valid_from: datetime!(2026-12-04 10:00 UTC),
            valid_until: datetime!(2027-03-04 10:00 UTC),
            holder_jwk: None,
            status: None,
        }
    }

    fn render_personbevis(certificate_id: &str) -> Vec<u8> {
        let personbevis = certificate_type("personbevis");
        let claims = personbevis_claims();
        render(
            &issuance(&personbevis, &claims, certificate_id),
            "INTYG1:TEST",
        )
        .unwrap()
    }

    #[test]
    fn render_is_deterministic() {
        let first = render_personbevis("6b1f6c3e-0000-4000-8000-000000000001");
        let second = render_personbevis("6b1f6c3e-0000-4000-8000-000000000001");
        assert!(first.starts_with(b"%PDF-"));
        assert_eq!(first, second);
    }

    #[test]
    fn render_depends_on_input() {
        let first = render_personbevis("6b1f6c3e-0000-4000-8000-000000000001");
        let second = render_personbevis("6b1f6c3e-0000-4000-8000-000000000002");
        assert_ne!(first, second);
    }

    #[test]
    fn layout_has_holder_and_claims() {
        let personbevis = certificate_type("personbevis");
        let claims = personbevis_claims();
        let issuance = issuance(&personbevis, &claims, "id");
        let pages = lay_out(&issuance, text::fonts().unwrap());
        let texts = texts(&pages);
        for expected in [
            "Personbevis",
            "Åsa Öberg",
            "Folkbokföringsadress",
            " / Registered address",
            "Stockholms län",
            "2027-03-04 10:00 UTC",
        ] {
            assert!(
                texts.contains(&expected),
                "{expected:?} missing from {texts:?}"
            );
        }
        assert_eq!(pages.len(), 1);
    }
}
