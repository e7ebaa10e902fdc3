"""The report of a run, made from its timeline JSON files: HTML (html.py, with inline SVG charts from
chart.py), a Markdown summary (markdown.py), and each alert's history (history.py).

    timelines = load_dir(".alertdrill/timelines")
    write_html(timelines, "report.html")
"""
from alertdrill.report.html import render_html, write_html
from alertdrill.report.load import load_dir, load_timeline
from alertdrill.report.markdown import summary_markdown

__all__ = ["load_dir", "load_timeline", "render_html", "write_html", "summary_markdown"]
