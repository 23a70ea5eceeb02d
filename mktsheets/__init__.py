"""mktsheets: spreadsheet-native goals, tracking, evaluation and incentives for marketing teams."""
__version__ = "0.1.0"
