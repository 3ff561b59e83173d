"""Document Intelligence with the official client (azure-ai-documentintelligence 1.0.2), unchanged, pointed at
the gateway: an invoice drawn here (a title, a few lines of text and a ruled table) is read back exactly by
prebuilt-layout, as a PNG; the same page as a PDF (rendered by poppler) by prebuilt-read, in inches."""

import io

import pytest
from azure.ai.documentintelligence import DocumentIntelligenceClient
from azure.ai.documentintelligence.models import AnalyzeDocumentRequest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
TITLE = "INVOICE 2041"
LINES = ["Billed to: Ada Lovelace", "Date: 2026-12-06"]
TABLE = [["Item", "Qty", "Price"], ["Widget", "4", "12.50"], ["Gadget", "1", "99.00"], ["Total", "5", "149.00"]]
COLUMNS = [80, 480, 680, 980]
ROW_HEIGHT = 70
TABLE_TOP = 420


def invoice() -> Image.Image:
    image = Image.new("RGB", (1100, 800), "white")
    draw = ImageDraw.Draw(image)
    draw.text((80, 60), TITLE, font=ImageFont.truetype(FONT, 72), fill="black")
    body = ImageFont.truetype(FONT, 34)
    for i, line in enumerate(LINES):
        draw.text((80, 220 + 60 * i), line, font=body, fill="black")
    bottom = TABLE_TOP + ROW_HEIGHT * len(TABLE)
    for r in range(len(TABLE) + 1):
        y = TABLE_TOP + ROW_HEIGHT * r
        draw.line((COLUMNS[0], y, COLUMNS[-1], y), fill="black", width=3)
    for x in COLUMNS:
        draw.line((x, TABLE_TOP, x, bottom), fill="black", width=3)
    for r, row in enumerate(TABLE):
        for c, text in enumerate(row):
            draw.text((COLUMNS[c] + 20, TABLE_TOP + ROW_HEIGHT * r + 16), text, font=body, fill="black")
    return image


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def client(cogway):
    key = cogway.create_key("sdk-document", ["vision"])
    return DocumentIntelligenceClient(cogway.endpoint, AzureKeyCredential(key))


def test_layout_reads_a_drawn_invoice_back_exactly_with_its_table(client):
    poller = client.begin_analyze_document("prebuilt-layout", encoded(invoice(), "PNG"))
    assert len(poller.details["operation_id"]) == 36
    result = poller.result()
    assert result.model_id == "prebuilt-layout" and result.api_version == "2024-11-30"
    page = result.pages[0]
    assert (page.unit, page.width, page.height, page.page_number) == ("pixel", 1100, 800, 1)
    expected_lines = [TITLE, *LINES, *[cell for row in TABLE for cell in row]]
    assert [line.content for line in page.lines] == expected_lines
    assert result.content == "\n".join(expected_lines)
    # Every word and line points at its text in the content.
    for element in page.words:
        assert result.content[element.span.offset:element.span.offset + element.span.length] == element.content
    for line in page.lines:
        assert result.content[line.spans[0].offset:line.spans[0].offset + line.spans[0].length] == line.content
    # The title, the body paragraph, and the table with its header row.
    assert (result.paragraphs[0].role, result.paragraphs[0].content) == ("title", TITLE)
    assert result.paragraphs[1].content == "\n".join(LINES) and result.paragraphs[1].role is None
    table = result.tables[0]
    assert (table.row_count, table.column_count) == (len(TABLE), len(TABLE[0]))
    cells = {(c.row_index, c.column_index): c for c in table.cells}
    assert [[cells[(r, c)].content for c in range(3)] for r in range(len(TABLE))] == TABLE
    assert all(cells[(0, c)].kind == "columnHeader" for c in range(3)) and cells[(1, 0)].kind is None
    # A cell's region is the drawn cell.
    x = cells[(2, 1)].bounding_regions[0].polygon
    assert abs(x[0] - COLUMNS[1]) <= 4 and abs(x[1] - (TABLE_TOP + 2 * ROW_HEIGHT)) <= 4, x


def test_read_takes_a_pdf_and_answers_in_inches(client):
    pdf = encoded(invoice(), "PDF", resolution=100.0)
    result = client.begin_analyze_document("prebuilt-read", AnalyzeDocumentRequest(bytes_source=pdf)).result()
    page = result.pages[0]
    assert page.unit == "inch" and abs(page.width - 11.0) < 0.05 and abs(page.height - 8.0) < 0.05, page
    # Rendered at twice the drawing's size, the OCR may read a space less ("Date:2026-12-06").
    squeeze = lambda text: text.replace(" ", "")  # noqa: E731
    assert [squeeze(line.content) for line in page.lines][:3] == [squeeze(t) for t in (TITLE, *LINES)]
    assert "Widget" in result.content and not result.tables and all(p.role is None for p in result.paragraphs)
    # Polygons are in inches, within the page.
    assert all(0 <= v <= 11.0 for line in page.lines for v in line.polygon)


def test_mistakes_get_clear_errors(client):
    with pytest.raises(ResourceNotFoundError):
        client.begin_analyze_document("prebuilt-invoice", encoded(invoice(), "PNG"))
    with pytest.raises(HttpResponseError) as refused:
        client.begin_analyze_document("prebuilt-read", b"this is not a document")
    assert refused.value.status_code == 400
    with pytest.raises(HttpResponseError) as refused:
        client.begin_analyze_document("prebuilt-read", b"%PDF-1.7 damaged")
    assert refused.value.status_code == 400
