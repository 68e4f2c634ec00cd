"""One report, written three ways: Markdown, HTML and JUnit XML.

The report is built once as a list of blocks (headings, paragraphs, tables,
code, images) and each writer renders the blocks, so report.md and
report.html cannot say different things.
"""

import html
import re
from xml.etree import ElementTree as ET


class Doc:
    def __init__(self):
        self.blocks = []

    def heading(self, level, text):
        self.blocks.append(("heading", level, text))

    def para(self, text):
        self.blocks.append(("para", text))

    def bullets(self, items):
        if items:
            self.blocks.append(("bullets", list(items)))

    def table(self, header, rows, align=None):
        """align: a string of 'l'/'r' per column (default: first left, rest right)."""
        align = align or "l" + "r" * (len(header) - 1)
        self.blocks.append(("table", list(header), [list(map(str, r)) for r in rows], align))

    def code(self, text):
        self.blocks.append(("code", text))

    def image(self, alt, path):
        self.blocks.append(("image", alt, path))


def to_markdown(doc):
    out = []
    for block in doc.blocks:
        kind = block[0]
        if kind == "heading":
            out.append("#" * block[1] + " " + block[2])
        elif kind == "para":
            out.append(block[1])
        elif kind == "bullets":
            out.append("\n".join(f"- {item}" for item in block[1]))
        elif kind == "table":
            _, header, rows, align = block
            cells = lambda row: "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
            rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
            out.append("\n".join([cells(header), rule] + [cells(row) for row in rows]))
        elif kind == "code":
            out.append("```\n" + block[1].rstrip("\n") + "\n```")
        elif kind == "image":
            out.append(f"![{block[1]}]({block[2]})")
    return "\n\n".join(out) + "\n"


INLINE_CODE = re.compile(r"`([^`]+)`")
BOLD = re.compile(r"\*\*([^*]+)\*\*")
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def inline_html(text):
    """The little Markdown the blocks use inline: `code`, **bold**, [text](link)."""
    escaped = html.escape(text, quote=False)
    escaped = INLINE_CODE.sub(r"<code>\1</code>", escaped)
    escaped = BOLD.sub(r"<b>\1</b>", escaped)
    return LINK.sub(r'<a href="\2">\1</a>', escaped)


STYLE = """body{font-family:sans-serif;max-width:70em;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}
th{background:#f2f2f2}td.r{text-align:right}pre{background:#f6f6f6;padding:.5em;overflow-x:auto}
code{background:#f6f6f6}.fail{color:#b00;font-weight:bold}.pass{color:#070;font-weight:bold}
img{max-width:100%;border:1px solid #ddd}"""


def to_html(doc, title):
    out = [f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
           f"</title><style>{STYLE}</style></head><body>"]
    for block in doc.blocks:
        kind = block[0]
        if kind == "heading":
            out.append(f"<h{block[1]}>{inline_html(block[2])}</h{block[1]}>")
        elif kind == "para":
            text = inline_html(block[1])
            text = text.replace("FAIL", '<span class="fail">FAIL</span>').replace(
                "PASS", '<span class="pass">PASS</span>')
            out.append(f"<p>{text}</p>")
        elif kind == "bullets":
            items = "".join(f"<li>{inline_html(item)}</li>" for item in block[1])
            out.append(f"<ul>{items}</ul>")
        elif kind == "table":
            _, header, rows, align = block
            head = "".join(f"<th>{inline_html(c)}</th>" for c in header)
            body = "".join(
                "<tr>" + "".join(f'<td class="{a}">{inline_html(c)}</td>'
                                 for c, a in zip(row, align)) + "</tr>" for row in rows)
            out.append(f"<table><tr>{head}</tr>{body}</table>")
        elif kind == "code":
            out.append(f"<pre>{html.escape(block[1])}</pre>")
        elif kind == "image":
            out.append(f'<p><img src="{html.escape(block[2])}" alt="{html.escape(block[1])}"></p>')
    out.append("</body></html>\n")
    return "\n".join(out)


class JUnit:
    """Test suites of cases, each passed, failed (with a message) or skipped."""

    def __init__(self, name):
        self.root = ET.Element("testsuites", name=name)
        self.suites = {}

    def case(self, suite, name, seconds=0.0, failure=None, skipped=None, output=None):
        element = self.suites.get(suite)
        if element is None:
            element = ET.SubElement(self.root, "testsuite", name=suite)
            self.suites[suite] = element
        case = ET.SubElement(element, "testcase", name=name, classname=suite,
                             time=f"{seconds:.3f}")
        if failure is not None:
            ET.SubElement(case, "failure", message=failure.splitlines()[0][:200]).text = failure
        elif skipped is not None:
            ET.SubElement(case, "skipped", message=skipped)
        if output:
            ET.SubElement(case, "system-out").text = output

    def write(self, path):
        totals = {"tests": 0, "failures": 0, "skipped": 0}
        for suite in self.suites.values():
            cases = suite.findall("testcase")
            counts = {"tests": len(cases),
                      "failures": sum(1 for c in cases if c.find("failure") is not None),
                      "skipped": sum(1 for c in cases if c.find("skipped") is not None)}
            seconds = sum(float(c.get("time")) for c in cases)
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
            suite.set("errors", "0")
            suite.set("time", f"{seconds:.3f}")
        for key, value in totals.items():
            self.root.set(key, str(value))
        ET.indent(self.root)
        ET.ElementTree(self.root).write(path, encoding="utf-8", xml_declaration=True)


def to_text(doc):
    """The document for a terminal: headings underlined, tables in aligned
    columns, the inline Markdown marks taken out."""
    plain = lambda text: LINK.sub(r"\1", BOLD.sub(r"\1", INLINE_CODE.sub(r"\1", text)))
    out = []
    for block in doc.blocks:
        kind = block[0]
        if kind == "heading":
            text = plain(block[2])
            out.append(text + "\n" + ("=" if block[1] <= 1 else "-") * len(text))
        elif kind == "para":
            out.append(plain(block[1]))
        elif kind == "bullets":
            out.append("\n".join(f"- {plain(item)}" for item in block[1]))
        elif kind == "table":
            _, header, rows, align = block
            rows = [[plain(c) for c in row] for row in [header] + rows]
            widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
            out.append("\n".join(
                "  ".join(c.rjust(w) if a == "r" else c.ljust(w)
                          for c, w, a in zip(row, widths, align)).rstrip()
                for row in rows))
        elif kind == "code":
            out.append(block[1].rstrip("\n"))
        elif kind == "image":
            out.append(f"[{block[1]}: {block[2]}]")
    return "\n\n".join(out) + "\n"
