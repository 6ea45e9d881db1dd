"""The HTML loader keeps a page's main content and drops what a reader skips (ingest/markup.py's docstring)."""

from __future__ import annotations

from ingest.chunking import split_sentences
from ingest.markup import html_to_text

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Velmora Lighthouse | Harbour Museum</title>
  <style>body { font-family: serif; } .hidden { display: none }</style>
  <script>window.dataLayer = [];</script>
</head>
<body>
  <a class="skip-link" href="#content">Skip to content</a>
  <header class="site-header">
    <a href="/"><img src="/logo.svg" alt="Harbour Museum"></a>
    <span>Harbour Museum of Velmora</span>
    <form role="search"><input name="q" placeholder="Search"><button>Search</button></form>
  </header>
  <nav aria-label="Main">
    <ul><li><a href="/">Home</a></li><li><a href="/visit">Visit us</a></li><li><a href="/shop">Shop</a></li></ul>
  </nav>
  <div class="page">
    <ol class="breadcrumb"><li><a href="/">Home</a></li><li><a href="/history">History</a></li></ol>
    <div class="content">
      <article>
        <header><h1>The Velmora Lighthouse</h1><p class="byline">By the museum staff, 2023</p></header>
        <p>The lighthouse was built in 1873 by the harbour board.
           Its keeper painted the tower red in 1911, after the great storm.</p>
        <h2>Keepers</h2>
        <p>Three families kept the light, e.g. the Marsh family, until it was automated in 1972.</p>
        <ul>
          <li>Thomas Marsh, 1873&ndash;1901</li>
          <li>Ada Marsh, 1901&ndash;1930<ul><li>the first woman keeper</li></ul></li>
        </ul>
        <table>
          <tr><th>Year</th><th>Event</th></tr>
          <tr><td>1911</td><td>Tower painted red</td></tr>
        </table>
        <pre>Lat 54.3&deg; N
Lon 3.2&deg; W</pre>
        <p hidden>Draft paragraph not yet published.</p>
        <p class="hidden" style="display:none">Also hidden.</p>
      </article>
      <aside class="sidebar"><h3>Related</h3><ul><li><a href="/ships">Shipwrecks</a></li></ul></aside>
    </div>
  </div>
  <div id="cookie-banner">We use cookies to improve your visit. <button>Accept</button></div>
  <footer><p>&copy; 2024 Harbour Museum. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
  <script src="/app.js"></script>
</body>
</html>
"""

ARTICLE = (
    "The Velmora Lighthouse\n\n"
    "By the museum staff, 2023\n\n"
    "The lighthouse was built in 1873 by the harbour board. Its keeper painted the tower red in 1911, after the "
    "great storm.\n\n"
    "Keepers\n\n"
    "Three families kept the light, e.g. the Marsh family, until it was automated in 1972.\n\n"
    "- Thomas Marsh, 1873–1901\n"
    "- Ada Marsh, 1901–1930\n"
    "  - the first woman keeper\n\n"
    "Year | Event\n\n"
    "1911 | Tower painted red\n\n"
    "Lat 54.3° N\nLon 3.2° W"
)


def test_the_article_is_kept_and_the_page_around_it_dropped() -> None:
    dropped: list[tuple[str, int]] = []
    title, text = html_to_text(PAGE, measure=dropped)
    assert title == "Velmora Lighthouse | Harbour Museum"
    assert text == ARTICLE
    for gone in ("Skip to content", "Harbour Museum of Velmora", "Visit us", "History", "Shipwrecks", "cookies",
                 "rights reserved", "Draft paragraph", "Also hidden", "dataLayer", "font-family"):
        assert gone not in text
    assert [text[a:b] for a, b in split_sentences(text)][2:4] == [
        "The lighthouse was built in 1873 by the harbour board.",
        "Its keeper painted the tower red in 1911, after the great storm.",
    ]


def test_measured_what_is_dropped() -> None:
    """The figures of ingest/markup.py's docstring for this page: of the body's 107 words, the article's 68 visible
    ones are all kept; the 32 of the banner, navigation, breadcrumb, sidebar, cookie notice and footer and the 7
    of hidden paragraphs are dropped."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(PAGE)
    for node in tree.css("script, style"):
        node.decompose()
    assert tree.body is not None
    article = tree.css_first("article")
    assert article is not None
    body_words = tree.body.text(deep=True, separator=" ").split()
    article_words = article.text(deep=True, separator=" ").split()
    dropped: list[tuple[str, int]] = []
    _, text = html_to_text(PAGE, measure=dropped)
    kept = [word for word in text.split() if word not in ("-", "|")]  # list markers and cell separators
    assert (len(body_words), len(article_words), len(kept)) == (107, 75, 68)
    assert dropped == [("hidden", 5), ("hidden", 2)]
    assert sorted(kept) == sorted(word for word in article_words if word not in "Draft paragraph not yet published. "
                                  "Also hidden.".split())


def test_without_main_or_article_the_body_is_read_and_its_title_is_the_first_heading() -> None:
    title, text = html_to_text(
        "<body><div class='navheader'><a href='a'>Prev</a> <a href='b'>Next</a></div>"
        "<div class='toc'><dl><dt>1. Intro</dt></dl></div>"
        "<h2>Subtitle first</h2><h1>Users &amp; Groups</h1><p>Root owns\n/etc/passwd.<br>Line two.</p>"
        "<div class='header'><p>Next: <a href='x'>Types</a>, Up: <a href='y'>Using libffi</a></p></div>"
        "<div class='navfooter'>Home</div></body>"
    )
    assert title == "Users & Groups"
    assert text == "Subtitle first\n\nUsers & Groups\n\nRoot owns /etc/passwd.\nLine two."


def test_layout_tables_are_read_as_blocks() -> None:
    cell = "A long paragraph of the page's text. " * 10
    _, text = html_to_text(f"<table><tr><td><p>{cell}</p><p>Second.</p></td></tr></table>")
    assert text == f"{cell.strip()}\n\nSecond."


def test_permalinks_copy_buttons_and_hidden_code_lines_are_not_text() -> None:
    """What documentation generators put beside the text: a heading's permalink (Node.js ``#``, Sphinx ``¶``), the
    copy button inside a code block (Node.js), and mdBook's hidden lines of a listing. A link to an anchor that
    says words stays."""
    _, text = html_to_text(
        "<main><h2>readStream.isRaw<a class='mark' href='#readstreamisraw' id='readstreamisraw'>#</a></h2>"
        "<p>A <code>boolean</code> that is <code>true</code> when raw. See <a href='#modes'>the modes</a>.</p>"
        "<pre><code class='language-js'><span class='hljs-keyword'>const</span> tty = require('node:tty');"
        "</code> <button class='copy-button'>copy</button></pre>"
        "<h3>Versions<a class='headerlink' href='#versions' title='Permalink to this heading'>¶</a></h3>"
        "<pre><code><span class='boring'>fn main() {\n</span>let hello = String::from(\"Hola\");\n"
        "<span class='boring'>}</span></code></pre></main>"
    )
    assert text == ("readStream.isRaw\n\nA boolean that is true when raw. See the modes.\n\n"
                    "const tty = require('node:tty');\n\nVersions\n\nlet hello = String::from(\"Hola\");")


def test_a_code_blocks_classes_are_no_navigation_words() -> None:
    """mdBook writes a fence's options as classes (``ignore skip``): the listing stays, as does a ``<br>`` in it."""
    _, text = html_to_text("<main><pre><code class='language-rust ignore skip'>pub enum E {\n    Variant1{f1: i32}\n}"
                           "</code></pre><pre>int f (int a,<br>       int b);</pre></main>")
    assert text == "pub enum E {\n    Variant1{f1: i32}\n}\n\nint f (int a,\n       int b);"
