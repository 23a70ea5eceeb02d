"""Cell formats of the generated workbook: input cells and computed cells look different."""
from __future__ import annotations

INPUT_FILL = "#FFF9E6"       # pale yellow: people type here
COMPUTED_FILL = "#EEF3F8"    # pale blue-grey: formulas, do not type
HEADER_INPUT = "#F4B183"
HEADER_COMPUTED = "#9DC3E6"
BORDER_COLOR = "#BFBFBF"
FONT = "Microsoft YaHei"     # renders Chinese on Windows; WPS/LibreOffice substitute a CJK font

NUMBER_FORMATS = {
    "text": "@",
    "number": "[>=1000]#,##0;[<=-1000]-#,##0;General",
    "money": "#,##0.00",
    "percent": "0.00%",
    "share": "0%",
    "date": "yyyy-mm-dd",
    "week": "0",
    "int": "0",
    "score": "0.##",
    "code": "@",
    "period": "@",
}
# Computed text columns must not be "@": a text-formatted cell shows a formula as text in Excel.
COMPUTED_NUMBER_FORMATS = {**NUMBER_FORMATS, "text": "General", "code": "General", "score": "0.00",
                           "number": "[>=1000]#,##0.##;[<=-1000]-#,##0.##;0.####"}


class Formats:
    """Creates (once) and hands out the XlsxWriter formats by role and type."""

    def __init__(self, workbook):
        self.wb = workbook
        self._cache: dict[tuple, object] = {}

    def get(self, role: str, col_type: str = "text", **extra):
        key = (role, col_type, tuple(sorted(extra.items())))
        if key not in self._cache:
            props = {"font_name": FONT, "font_size": 10, "valign": "vcenter",
                     "border": 1, "border_color": BORDER_COLOR}
            if role == "input":
                props.update(bg_color=INPUT_FILL, num_format=NUMBER_FORMATS.get(col_type, "General"))
            elif role in {"computed", "helper"}:
                props.update(bg_color=COMPUTED_FILL, num_format=COMPUTED_NUMBER_FORMATS.get(col_type, "General"))
            elif role == "header_input":
                props.update(bold=True, bg_color=HEADER_INPUT, text_wrap=True, align="center")
            elif role == "header_computed":
                props.update(bold=True, bg_color=HEADER_COMPUTED, text_wrap=True, align="center")
            elif role == "title":
                props = {"font_name": FONT, "bold": True, "font_size": 16}
            elif role == "subtitle":
                props = {"font_name": FONT, "bold": True, "font_size": 12}
            elif role == "text":
                props = {"font_name": FONT, "font_size": 10, "text_wrap": True, "valign": "top"}
            elif role == "label":
                props.update(bold=True, bg_color="#F2F2F2")
            props.update(extra)
            self._cache[key] = self.wb.add_format(props)
        return self._cache[key]
