@echo off
rem mktsheets one-click recalc for Windows.
rem Drag a workbook onto this file, or double-click it to recalc the newest .xlsx beside it.
chcp 65001 >nul
setlocal
set "BOOK=%~1"
if "%BOOK%"=="" (
  for /f "delims=" %%F in ('dir /b /o-d /a-d "%~dp0*.xlsx" 2^>nul ^| findstr /v /b /c:"~$" ^| findstr /v /i ".bak.xlsx"') do (
    if not defined BOOK set "BOOK=%~dp0%%F"
  )
)
if "%BOOK%"=="" (
  echo 没有找到工作簿 / No workbook found next to this file.
  pause
  exit /b 1
)
where mktsheets >nul 2>nul
if errorlevel 1 (
  py -m mktsheets recalc "%BOOK%"
) else (
  mktsheets recalc "%BOOK%"
)
echo.
pause
