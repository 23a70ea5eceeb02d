#!/bin/bash
# mktsheets one-click recalc for macOS.
# Drop a workbook onto this file (or double-click it to recalc the newest .xlsx beside it).
cd "$(dirname "$0")" || exit 1
BOOK="$1"
if [ -z "$BOOK" ]; then
  BOOK=$(ls -t -- *.xlsx 2>/dev/null | grep -v '^~\$' | grep -v '\.bak\.xlsx$' | head -n 1)
fi
if [ -z "$BOOK" ]; then
  echo "没有找到工作簿 / No workbook found next to this file."
  read -r -p "按回车键关闭 / Press Return to close" _
  exit 1
fi
if command -v mktsheets >/dev/null 2>&1; then
  mktsheets recalc "$BOOK"
else
  python3 -m mktsheets recalc "$BOOK"
fi
echo
read -r -p "按回车键关闭 / Press Return to close" _
