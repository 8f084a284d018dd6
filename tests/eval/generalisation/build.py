#!/usr/bin/env python3
"""Builds the generalisation sets: FAQ documents shipped by Debian packages, turned into
citebot corpora (one Markdown article per FAQ page or chapter, one neutral `## Entry N.M`
section per FAQ entry) and question files in the eval format.

Usage:  python3 tests/eval/generalisation/build.py

Standard library only. Installs the Debian packages it reads with apt-get when they are
missing (needs root and the Debian package registry). The output is a pure function of the
installed files: run it twice and nothing changes. MANIFEST.json records package, version and
sha256 of every source file; README.md is rewritten with the counts.
"""

import gzip
import hashlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------

DEBIAN_FAQ_DIR = "/usr/share/doc/debian/FAQ"
DEBIAN_FAQ_CHAPTERS = [
    "basic-defs", "getting-debian", "choosing", "compatibility", "software", "ftparchives",
    "pkg-basics", "pkgtools", "uptodate", "kernel", "customizing", "support", "contributing",
    "redistributing", "nextrelease", "faqinfo",
]
ZSH_FAQ_DIR = "/usr/share/doc/zsh-common/html"

SETS = [
    {
        "name": "debian-faq",
        "package": "debian-faq",
        "expected_version": "11.1",
        "files": [f"{DEBIAN_FAQ_DIR}/{c}.en.html" for c in DEBIAN_FAQ_CHAPTERS],
        "copyright": "/usr/share/doc/debian-faq/copyright",
        "what": "The Debian GNU/Linux FAQ (DocBook HTML, one article per chapter).",
        "licence": "Copyright (C) 1996-2003 Software in the Public Interest; verbatim and modified "
                   "copies permitted provided the copyright and permission notice are preserved "
                   "(GNU-manual-style permission notice, /usr/share/doc/debian-faq/copyright).",
        # words that name this product: a question naming them is not off-topic for this set
        "keywords": r"debian|dpkg|apt|apt-get|apt-cache|aptitude|deb|debs|ubuntu|knoppix|"
                    r"synaptic|tasksel|linux|distribution|package|packages",
        # words that mark a question as about this product: only such questions are lent to
        # the other sets as "near" off-topic ones
        "marker": r"debian|dpkg|apt|apt-get|aptitude|deb|debs|knoppix|ubuntu|package|packages|"
                  r"distribution|distributions",
    },
    {
        "name": "vim-faq",
        "package": "vim-doc",
        "expected_version": "2:9.0.1378-2+deb12u2",
        "files": ["/usr/share/doc/vim/FAQ.gz"],
        "copyright": "/usr/share/doc/vim-doc/copyright",
        "what": "The Vim FAQ by Yegappan Lakshmanan and others (plain text, one article per "
                "SECTION).",
        "licence": "/usr/share/doc/vim-doc/copyright has no stanza of its own for the FAQ, so "
                   "it falls under `Files: *`, Copyright 2001-2022 Bram Moolenaar and others, "
                   "License: Vim (unmodified copies may be distributed freely with the licence "
                   "text; modified versions under its conditions).",
        "keywords": r"vim|vi|gvim|vimrc|gvimrc|viminfo|vimscript|editor|editors",
        "marker": r"vim|gvim|vimrc|gvimrc|viminfo|vi",
    },
    {
        "name": "zsh-faq",
        "package": "zsh-doc",
        "expected_version": "5.9-4",
        "files": [f"{ZSH_FAQ_DIR}/FAQ0{i}.html" for i in range(1, 7)],
        "copyright": "/usr/share/doc/zsh-doc/copyright",
        "what": "The Z-Shell FAQ by Peter Stephenson (YODL-generated HTML, one article per "
                "chapter).",
        "licence": "Etc/FAQ.yo: Copyright 1995-2000, 2012 Peter W. Stephenson, licence "
                   "PWS-Zsh-FAQ: permission to use, copy, modify and distribute for any purpose "
                   "provided the copyright notice appears in all copies "
                   "(/usr/share/doc/zsh-doc/copyright).",
        "keywords": r"zsh|zshrc|zshenv|shell|shells|bash|ksh|csh|tcsh|sh|prompt|completion|"
                    r"globbing|history|xterm|terminal",
        "marker": r"zsh|zshrc|zle",
    },
    {
        "name": "git-faq",
        "package": "git-doc",
        "expected_version": "1:2.39.5-0+deb12u3",
        "files": ["/usr/share/doc/git-doc/gitfaq.txt"],
        "copyright": "/usr/share/doc/git-doc/copyright",
        "what": "gitfaq(7), Frequently asked questions about using Git (AsciiDoc source, one "
                "article).",
        "licence": "Git's documentation: `Files: *`, Copyright 2005-2022 Linus Torvalds and "
                   "others, License: GPL-2 (/usr/share/doc/git-doc/copyright).",
        "keywords": r"git|github|gitlab|commit|commits|branch|branches|merge|merges|rebase|"
                    r"repository|repositories|push|pull|fetch|credential|credentials",
        "marker": r"git|commit|commits|branch|branches|merge|merges|rebase|credential|"
                  r"credentials|fetch|pull|http\.postbuffer|user\.name",
    },
]

# Everyday questions, the same list for every set (rotated), about no product at all.
FAR_QUESTIONS = [
    "What will the weather be like this weekend?",
    "How long should I boil an egg for a runny yolk?",
    "Who won the football match last night?",
    "What is a good birthday present for my dad, who loves gardening?",
    "How do I get a red wine stain out of a carpet?",
    "Which are the cheapest months to fly to the Canary Islands?",
    "How many minutes per kilo should I roast a chicken?",
    "Can you recommend a good novel for a long train journey?",
    "How do I stop my dog from barking at the neighbours?",
    "What should I pack for a week of hiking in the mountains?",
    "How often should I water a cactus?",
    "Is it better to stretch before or after running?",
    "How do I make fluffy pancakes without buttermilk?",
    "What is the offside rule in football?",
    "Any ideas for a rainy afternoon with two bored kids?",
    "How can I fall asleep faster at night?",
    "What is a polite way to decline a wedding invitation?",
    "Which wine goes well with grilled salmon?",
    "How do I keep basil alive on a windowsill?",
    "What is the best way to learn to swim as an adult?",
]

# --------------------------------------------------------------------------------------------
# Installing and fingerprinting the sources
# --------------------------------------------------------------------------------------------


def installed_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", pkg],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    status, _, version = r.stdout.partition("\t")
    return version if status.endswith(" installed") else None


def ensure_packages():
    missing = [s["package"] for s in SETS if installed_version(s["package"]) is None
               or not all(os.path.exists(f) for f in s["files"])]
    if not missing:
        return
    print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "--reinstall"] + missing
    if subprocess.run(cmd, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(cmd, env=env, check=True)


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_text(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8")


# --------------------------------------------------------------------------------------------
# Document model
#   block = ("p", segs) | ("code", text) | ("list", ordered, [item_blocks, ...]) | ("h", lvl, text)
#   segs  = [(kind, text)], kind "text" or "code"
# An article: {"slug", "title", "intro": [blocks], "entries": [entry]}
# An entry:   {"num", "heading", "title", "question", "blocks"}
# --------------------------------------------------------------------------------------------

WS = re.compile(r"\s+")


def finalize_segs(segs):
    """Collapses white space across segments, trims, merges neighbours of one kind."""
    chars = []
    for kind, text in segs:
        for ch in text:
            chars.append((" " if ch.isspace() else ch, kind))
    out = []
    for ch, kind in chars:
        if ch == " ":
            if not out or out[-1][0] == " ":
                if out and out[-1][0] == " " and kind != out[-1][1]:
                    out[-1] = (" ", "text")
                continue
        out.append((ch, kind))
    while out and out[-1][0] == " ":
        out.pop()
    merged = []
    for ch, kind in out:
        if merged and merged[-1][0] == kind:
            merged[-1][1].append(ch)
        else:
            merged.append((kind, [ch]))
    result = []
    for kind, cs in merged:
        text = "".join(cs)
        if kind == "code" and not text.strip():
            kind = "text"
        if result and result[-1][0] == kind:
            result[-1] = (kind, result[-1][1] + text)
        else:
            result.append((kind, text))
    # a code span's edge spaces belong to the text around it
    fixed = []
    for kind, text in result:
        if kind == "code":
            lead = text[: len(text) - len(text.lstrip(" "))]
            trail = text[len(text.rstrip(" ")):]
            if lead:
                fixed.append(("text", lead))
            fixed.append(("code", text.strip(" ")))
            if trail:
                fixed.append(("text", trail))
        else:
            fixed.append((kind, text))
    final = []
    for kind, text in fixed:
        if final and final[-1][0] == kind:
            final[-1] = (kind, final[-1][1] + text)
        else:
            final.append((kind, text))
    return [(k, t) for k, t in final if t]


def plain_of_segs(segs):
    return "".join(t for _, t in segs)


def para(segs):
    segs = finalize_segs(segs)
    return ("p", segs) if plain_of_segs(segs).strip() else None


def clean_code(text):
    text = text.expandtabs(8)
    lines = [ln.rstrip() for ln in text.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return textwrap.dedent("\n".join(lines))


# --------------------------------------------------------------------------------------------
# HTML → blocks (Debian FAQ, zsh FAQ)
# --------------------------------------------------------------------------------------------

VOID = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"}
CLOSES_P = {"p", "pre", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "div", "table",
            "hr", "blockquote", "dt", "dd", "li"}
INLINE = {"a", "code", "tt", "em", "strong", "b", "i", "span", "sup", "sub", "kbd", "var",
          "samp", "abbr", "acronym", "small", "big", "u", "cite", "q", "font", "br", "img"}
CODE_INLINE = {"code", "tt", "kbd", "samp"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def cls(self):
        return (self.attrs.get("class") or "").split()


class DomBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.stack = [self.root]

    def _close_to(self, idx):
        del self.stack[idx:]

    def _find_open(self, tag, stop=()):
        for i in range(len(self.stack) - 1, 0, -1):
            t = self.stack[i].tag
            if t == tag:
                return i
            if t in stop:
                return None
        return None

    def handle_starttag(self, tag, attrs):
        if tag in CLOSES_P:
            for i in range(len(self.stack) - 1, 0, -1):
                t = self.stack[i].tag
                if t == "p":
                    self._close_to(i)
                    break
                if t not in INLINE:
                    break
        if tag == "li":
            i = self._find_open("li", stop=("ul", "ol"))
            if i is not None:
                self._close_to(i)
        if tag in ("dt", "dd"):
            i = self._find_open("dt", stop=("dl",))
            if i is None:
                i = self._find_open("dd", stop=("dl",))
            if i is not None:
                self._close_to(i)
        node = Node(tag, attrs, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, attrs, self.stack[-1])
        self.stack[-1].children.append(node)

    def handle_endtag(self, tag):
        i = self._find_open(tag)
        if i is not None:
            self._close_to(i)

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_html(text):
    b = DomBuilder()
    b.feed(text)
    b.close()
    return b.root


def skipped(node):
    cls = node.cls()
    if node.tag in ("head", "style", "script", "title", "hr", "img"):
        return True
    if node.tag == "div" and set(cls) & {"navheader", "navfooter", "toc", "footnotes"}:
        return True
    if node.tag == "dl" and "toc" in cls:
        return True
    if node.tag == "sup" and "footnote" in cls:
        return True
    if node.tag == "table" and "Navigation" in (node.attrs.get("summary") or ""):
        return True
    if node.tag == "ul" and node.parent is not None and node.parent.tag == "body":
        # zsh: the navigation list (Table of Contents / Previous / Next Chapter)
        links = [c for c in node.children if isinstance(c, Node)]
        texts = " ".join(text_of(c) for c in links)
        if "Chapter" in texts or "Table of Contents" in texts:
            return True
    return False


def text_of(node):
    if isinstance(node, str):
        return node
    if skipped(node):
        return ""
    if node.tag == "br":
        return "\n"
    return "".join(text_of(c) for c in node.children)


def inline_segs(node, segs, code=False):
    """Appends the text of an inline element to segs: (kind, text) pairs."""
    if skipped(node):
        return
    if node.tag == "br":
        segs.append(("text", " "))
        return
    if node.tag == "a" and "xref" in node.cls():
        # DocBook <xref/>: the stylesheet writes "Section 7.3, “<the target's title>”";
        # the authors wrote only the reference, so keep "Section 7.3" / "Chapter 8".
        text = WS.sub(" ", text_of(node)).strip()
        m = re.match(r"^((?:Section|Chapter|Appendix) [\w.]+?)(?:,|$)", text)
        segs.append(("text", m.group(1) if m else text))
        return
    code = code or node.tag in CODE_INLINE
    for ch in node.children:
        if isinstance(ch, str):
            segs.append(("code" if code else "text", ch))
        else:
            inline_segs(ch, segs, code)


def html_blocks(node):
    out, segs = [], []

    def flush():
        p = para(segs)
        if p:
            out.append(p)
        segs.clear()

    for ch in node.children:
        if isinstance(ch, str):
            segs.append(("text", ch))
        elif skipped(ch):
            continue
        elif ch.tag in INLINE:
            inline_segs(ch, segs)
        elif ch.tag == "pre":
            flush()
            code = clean_code(text_of(ch))
            if code.strip():
                out.append(("code", code))
        elif ch.tag in ("ul", "ol"):
            flush()
            items = [html_blocks(li) for li in ch.children
                     if isinstance(li, Node) and li.tag == "li"]
            items = [i for i in items if i]
            if items:
                out.append(("list", ch.tag == "ol", items))
        elif ch.tag == "dl":
            flush()
            items, cur, loose = [], None, []

            def flush_loose():
                # text written straight into the <dl> after a <dt> (zsh FAQ 1.1, 1.6)
                nonlocal cur
                p = para(loose)
                if p:
                    if cur is None:
                        cur = []
                        items.append(cur)
                    cur.append(p)
                loose.clear()

            for c in ch.children:
                if isinstance(c, str):
                    loose.append(("text", c))
                elif skipped(c):
                    continue
                elif c.tag in INLINE:
                    inline_segs(c, loose)
                elif c.tag == "dt":
                    flush_loose()
                    cur = html_blocks(c)
                    items.append(cur)
                elif c.tag == "dd":
                    flush_loose()
                    if cur is None:
                        cur = []
                        items.append(cur)
                    cur.extend(html_blocks(c))
            flush_loose()
            items = [i for i in items if i]
            if items:
                out.append(("list", False, items))
        elif re.fullmatch(r"h[1-6]", ch.tag):
            flush()
            out.append(("h", int(ch.tag[1]), WS.sub(" ", text_of(ch)).strip()))
        else:
            flush()
            out.extend(html_blocks(ch))
    flush()
    return out


def split_entries(blocks, num_re, entry_levels):
    """Splits a block stream at headings: (h1 title, intro blocks, entries)."""
    title, intro, entries, cur = None, [], [], None
    for b in blocks:
        if b[0] == "h":
            _, level, text = b
            if level == 1 and title is None:
                title = text
                continue
            if level in entry_levels:
                m = re.match(num_re, text)
                if m:
                    cur = {"num": m.group(1), "title": m.group(2).strip(), "blocks": []}
                else:
                    cur = {"num": None, "title": text, "blocks": []}
                entries.append(cur)
                continue
        (cur["blocks"] if cur is not None else intro).append(b)
    return title, intro, entries


# --------------------------------------------------------------------------------------------
# Per-source readers
# --------------------------------------------------------------------------------------------


def slugify(text, words=6):
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    parts = re.findall(r"[a-z0-9]+", t)
    return "-".join(parts[:words])


def read_debian(s):
    articles = []
    for n, path in enumerate(s["files"], 1):
        root = parse_html(read_text(path))
        blocks = html_blocks(root)
        title, intro, entries = split_entries(blocks, r"^(\d+(?:\.\d+)+)\.\s+(.*)$", (2, 3, 4))
        m = re.match(r"^Chapter (\d+)\.\s+(.*)$", title)
        chap = int(m.group(1))
        articles.append({
            "slug": f"{chap:02d}-{os.path.basename(path).split('.')[0]}",
            "title": f"The Debian GNU/Linux FAQ: {title}",
            "intro": intro,
            "entries": entries,
        })
    articles.sort(key=lambda a: a["slug"])
    return articles


def read_zsh(s):
    articles = []
    for path in s["files"]:
        root = parse_html(read_text(path))
        blocks = html_blocks(root)
        title, intro, entries = split_entries(blocks, r"^(\d+\.\d+):\s*(.*)$", (2,))
        m = re.match(r"^Chapter (\d+):\s+(.*)$", title)
        chap = int(m.group(1))
        articles.append({
            "slug": f"{chap:02d}-{slugify(m.group(2))}",
            "title": f"Z-Shell Frequently-Asked Questions: {title}",
            "intro": intro,
            "entries": entries,
        })
    return articles


# In the Vim FAQ real lists start in column 0 ("- "), or column 3 ("   * "); a "- " further in
# is an example of text being formatted (14.4), so it stays literal.
BULLET = re.compile(r"^(|   (?=\*))([-*]|\d{1,2}\.) +")


def definition_list(g):
    """A group of 2-space terms each followed by deeper-indented descriptions (Vim FAQ 1.4)
    → list items [term paragraph, description paragraph], else None."""
    if indent_of(g[0]) != 2 or len(g) < 4:
        return None
    items = []
    for ln in g:
        ind = indent_of(ln)
        if ind == 2:
            if items and not items[-1][1] or len(ln.strip()) > 60:
                return None
            items.append([ln.strip(), []])
        elif ind >= 4 and items:
            items[-1][1].append(ln.strip())
        else:
            return None
    if not all(d for _, d in items) or len(items) < 2:
        return None
    return [[para([("text", t)]), para([("text", " ".join(d))])] for t, d in items]


def indent_of(line):
    return len(line) - len(line.lstrip(" "))


def text_blocks(lines):
    """Plain-text FAQ body (Vim FAQ) → blocks.

    Column-0 lines are prose (but for a group that opens with an Ex command or a function), joined into one paragraph per run; lines indented by 4 or more
    (or whole blank-separated groups indented by 2 or more) are literal examples; `- ` and
    `* ` bullets with indented continuation lines are list items. An example that follows a
    list item belongs to that item."""
    groups, cur = [], []
    for ln in lines:
        if ln.strip():
            cur.append(ln.expandtabs(8).rstrip())
        elif cur:
            groups.append(cur)
            cur = []
    if cur:
        groups.append(cur)

    out = []
    list_open = False  # the last block is a list that an example or more bullets extend

    for g in groups:
        m = BULLET.match(g[0])
        if m:
            ordered = m.group(2)[0].isdigit()
            items, base = [], indent_of(g[0])
            for ln in g:
                mm = BULLET.match(ln)
                if mm and indent_of(ln) == base and (mm.group(2)[0].isdigit()) == ordered:
                    items.append([ln[mm.end():].strip()])
                else:
                    items[-1].append(ln.strip())
            items = [[para([("text", " ".join(it))])] for it in items]
            if list_open and out[-1][1] == ordered:
                out[-1][2].extend(items)
            else:
                out.append(("list", ordered, items))
            list_open = True
            continue
        defs = definition_list(g)
        if defs:
            out.append(("list", False, defs))
            list_open = False
            continue
        # two examples start in column 0 (12.32 ":command ...", 25.x "function! Eatchar")
        if all(indent_of(ln) >= 2 for ln in g) or re.match(r"^(:[A-Za-z%]|function!? )", g[0]):
            code = ("code", clean_code("\n".join(g)))
            if list_open:
                out[-1][2][-1].append(code)
            else:
                out.append(code)
            continue
        list_open = False
        prose, code = [], []
        for ln in g:
            if indent_of(ln) >= 4:
                if prose:
                    out.append(para([("text", " ".join(x.strip() for x in prose))]))
                    prose = []
                code.append(ln)
            else:
                if code:
                    out.append(("code", clean_code("\n".join(code))))
                    code = []
                prose.append(ln)
        if prose:
            out.append(para([("text", " ".join(x.strip() for x in prose))]))
        if code:
            out.append(("code", clean_code("\n".join(code))))
    return [b for b in out if b]


def read_vim(s):
    lines = read_text(s["files"][0]).split("\n")
    sep = [i for i, ln in enumerate(lines) if re.fullmatch(r"=+", ln.strip())]
    index_at = next(i for i, ln in enumerate(lines) if ln.strip() == "INDEX")
    intro_lines = lines[1:index_at]  # line 0 is the modeline
    articles = []
    for a, b in zip(sep, sep[1:] + [len(lines)]):
        chunk = lines[a + 1:b]
        head = next((i for i, ln in enumerate(chunk) if ln.strip()), None)
        if head is None:
            continue
        m = re.match(r"^SECTION (\d+) - (.*)$", chunk[head].strip())
        if not m:
            continue  # the closing "Current Maintainer / Last updated" note
        secno, secname = int(m.group(1)), m.group(2).strip()
        entries, cur, body = [], None, chunk[head + 1:]
        i = 0
        while i < len(body):
            ln = body[i]
            mm = re.match(r"^(\d+)\.(\d+)\. (.*)$", ln)
            if mm and int(mm.group(1)) == secno:
                qlines = [mm.group(3).strip()]
                i += 1
                while i < len(body) and body[i].strip() and body[i].startswith(" "):
                    qlines.append(body[i].strip())
                    i += 1
                cur = {"num": f"{mm.group(1)}.{mm.group(2)}", "title": " ".join(qlines),
                       "lines": []}
                entries.append(cur)
                continue
            if cur is not None:
                cur["lines"].append(ln)
            i += 1
        for e in entries:
            e["blocks"] = text_blocks(e.pop("lines"))
        articles.append({
            "slug": f"{secno:02d}-{slugify(secname)}",
            "title": f"Vim FAQ: SECTION {secno} - {secname}",
            "intro": text_blocks(intro_lines) if secno == 1 else [],
            "entries": entries,
        })
    return articles


def asciidoc_inline(text):
    segs = []
    for k, part in enumerate(re.split(r"`([^`]*)`", text)):
        if k % 2:
            segs.append(("code", part))
            continue
        part = re.sub(r"linkgit:([\w.-]+)\[(\d)\]", r"\1(\2)", part)
        part = re.sub(r"(?<![\w])_([^_\s][^_]*?)_(?![\w])", r"\1", part)
        part = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"\1", part)
        segs.append(("text", part))
    return segs


def asciidoc_body(lines):
    out, prose, i = [], [], 0

    def flush():
        if prose:
            p = para(asciidoc_inline(" ".join(x.strip() for x in prose)))
            if p:
                out.append(p)
            prose.clear()

    while i < len(lines):
        ln = lines[i]
        if ln.strip() == "----":
            flush()
            j = i + 1
            while j < len(lines) and lines[j].strip() != "----":
                j += 1
            out.append(("code", clean_code("\n".join(lines[i + 1:j]))))
            i = j + 1
            continue
        if not ln.strip() or ln.strip() == "+":
            flush()
        else:
            prose.append(ln)
        i += 1
    flush()
    return out


def read_git(s):
    lines = read_text(s["files"][0]).split("\n")
    title_line = None
    sections = []  # (title, start index of its body)
    for i in range(len(lines) - 1):
        if lines[i].strip() and re.fullmatch(r"-+", lines[i + 1]) \
                and len(lines[i + 1]) == len(lines[i]):
            sections.append((lines[i].strip(), i + 2))
    bounds = [(t, a, (sections[k + 1][1] - 2) if k + 1 < len(sections) else len(lines))
              for k, (t, a) in enumerate(sections)]
    intro, entries, part = [], [], 0
    for t, a, b in bounds:
        body = lines[a:b]
        if t == "NAME":
            title_line = " ".join(x.strip() for x in body if x.strip())
            continue
        if t in ("SYNOPSIS", "GIT"):
            continue
        if t == "DESCRIPTION":
            intro = asciidoc_body(body)
            continue
        part += 1
        item, cur = 0, None
        k = 0
        while k < len(body):
            if re.fullmatch(r"\[\[[\w-]+\]\]", body[k].strip()) and k + 1 < len(body) \
                    and body[k + 1].rstrip().endswith("::"):
                item += 1
                q = body[k + 1].rstrip()[:-2].strip()
                cur = {"num": f"{part}.{item}", "heading": f"Part {part}, item {item}",
                       "title": plain_of_segs(finalize_segs(asciidoc_inline(q))),
                       "lines": []}
                entries.append(cur)
                k += 2
                continue
            if cur is not None:
                cur["lines"].append(body[k])
            k += 1
    for e in entries:
        e["blocks"] = asciidoc_body(e.pop("lines"))
    name, _, desc = title_line.partition(" - ")
    return [{
        "slug": "gitfaq",
        "title": f"{name}(7): {desc}",
        "intro": intro,
        "entries": entries,
    }]


READERS = {"debian-faq": read_debian, "vim-faq": read_vim, "zsh-faq": read_zsh,
           "git-faq": read_git}

# --------------------------------------------------------------------------------------------
# Markdown rendering
# --------------------------------------------------------------------------------------------

ESCAPE_ANYWHERE = set("\\`*_[]<>&~")


def render_inline(segs, line_start=True):
    """→ (markdown, plain text as a Markdown reader sees it, per-char 'clean' mask).
    A plain-text char is clean when it is copied to the Markdown unchanged and is not code."""
    md, plain, mask = [], [], []
    first = True
    for kind, text in segs:
        if kind == "code":
            run = max((len(r) for r in re.findall(r"`+", text)), default=0)
            fence = "`" * (run + 1)
            pad = " " if (text.startswith("`") or text.endswith("`")
                          or (text.startswith(" ") and text.endswith(" "))) else ""
            md.append(f"{fence}{pad}{text}{pad}{fence}")
            plain.append(text)
            mask.extend([False] * len(text))
            first = False
            continue
        for j, ch in enumerate(text):
            esc = ch in ESCAPE_ANYWHERE
            if first and line_start and j == 0 and ch in "#>+-=":
                esc = True
            md.append("\\" + ch if esc else ch)
            plain.append(ch)
            mask.append(not esc)
        if first and line_start:
            m = re.match(r"^(\d{1,9})([.)])(\s|$)", text)
            if m:
                pos = len(m.group(1))
                # re-render with the list-marker punctuation escaped
                start = len(md) - len(text)
                md[start + pos] = "\\" + text[pos]
                mask[len(mask) - len(text) + pos] = False
        first = False
    return "".join(md), "".join(plain), mask


def render_code(text):
    run = max((len(r) for r in re.findall(r"^\s*(`{3,})", text, re.M)), default=2)
    fence = "`" * max(3, run + 1)
    return [fence] + text.split("\n") + [fence]


def render_blocks(blocks):
    lines = []
    for b in blocks:
        if lines:
            lines.append("")
        if b[0] == "p":
            lines.append(render_inline(b[1])[0])
        elif b[0] == "code":
            lines.extend(render_code(b[1]))
        elif b[0] == "list":
            _, ordered, items = b
            for n, item in enumerate(items, 1):
                if n > 1:
                    lines.append("")
                marker = f"{n}. " if ordered else "- "
                sub = render_blocks(item)
                for k, ln in enumerate(sub):
                    if k == 0:
                        lines.append(marker + ln)
                    else:
                        lines.append((" " * len(marker) + ln) if ln else "")
        else:
            raise ValueError(b)
    return lines


def escape_title(text):
    return render_inline([("text", text)], line_start=False)[0]


def render_article(a):
    lines = [f"# {escape_title(a['title'])}", ""]
    if a["intro"]:
        lines += render_blocks(a["intro"]) + [""]
    for e in a["entries"]:
        lines += [f"## {e['heading']}", ""]
        if e["blocks"]:
            lines += render_blocks(e["blocks"]) + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------------
# Reading the generated Markdown back (validation): sections with markup removed
# --------------------------------------------------------------------------------------------


def normalise(text):
    t = unicodedata.normalize("NFKC", text).lower()
    t = re.sub(r"[\u2018\u2019\u201a\u201b\u2032]", "'", t)
    t = re.sub(r"[\u201c\u201d\u201e\u201f\u2033]", '"', t)
    t = re.sub(r"[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]", "-", t)
    return WS.sub(" ", t).strip()


def strip_md_line(ln):
    ln = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", ln)
    ln = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", ln)
    return ln.replace("`", "")


def md_sections(md):
    """→ list of (heading, [(paragraph text with markup removed, starts a list item)]); the
    article intro is the section with heading None. Code fences are left out."""
    sections, cur, para_lines, in_code, fence = [], (None, []), [], False, ""
    sections.append(cur)

    def flush():
        if para_lines:
            is_item = re.match(r"^\s*(?:[-*+]|\d+[.)])\s+", para_lines[0]) is not None
            text = " ".join(strip_md_line(x) for x in para_lines)
            if not is_item and para_lines[0].startswith(" ") and cur[1] and cur[1][-1][1]:
                # a further paragraph of the open list item: citebot joins it to the item
                cur[1][-1] = (cur[1][-1][0] + " " + text, True)
            else:
                cur[1].append((text, is_item))
            para_lines.clear()

    for ln in md.split("\n"):
        s = ln.strip()
        if in_code:
            if s == fence:
                in_code = False
            continue
        m = re.match(r"^(`{3,})", s)
        if m:
            flush()
            in_code, fence = True, m.group(1)
            continue
        if ln.startswith("## "):
            flush()
            cur = (ln[3:].strip(), [])
            sections.append(cur)
            continue
        if ln.startswith("# "):
            continue
        if not s:
            flush()
            continue
        if re.match(r"^\s*(?:[-*+]|\d+[.)])\s+", ln):
            flush()
        para_lines.append(ln)
    flush()
    return sections


# --------------------------------------------------------------------------------------------
# Questions and expect phrases
# --------------------------------------------------------------------------------------------

SENT_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def words_of(text):
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", normalise(text))


def first_prose(blocks):
    """Where the entry's answer starts, as [(plain, mask, is_item)], or (None, reason).

    Normally the first paragraph. When the answer opens with a list, or with a lone one-sentence
    lead-in ("...as follows:") that citebot folds into the list as context instead of quoting it,
    the first two list items stand in for it (one phrase each)."""
    if not blocks:
        return None, "empty"
    b = blocks[0]
    if b[0] == "code":
        return None, "code first"
    if b[0] == "p":
        _, plain, mask = render_inline(b[1])
        lead_in = False
        if plain.rstrip().endswith(":") and len(SENT_END.split(plain.strip())) == 1:
            nxt = next((x for x in blocks[1:] if x[0] != "code"), None)
            lead_in = nxt is not None and nxt[0] == "list"
        if not lead_in:
            return [(plain, mask, False)], None
        b = nxt
    out = []
    for item in b[2][:2]:
        plain, mask = item_prose(item)
        if not plain:
            break
        out.append((plain, mask, True))
    return (out, None) if out else (None, "code first")


def item_prose(item):
    """A list item's text as citebot reads it: its paragraphs joined by a space, examples left
    out, up to a nested list (whose items are passages of their own)."""
    plain, mask = "", []
    for blk in item:
        if blk[0] == "list":
            break
        if blk[0] != "p":
            continue
        _, p, m = render_inline(blk[1])
        if plain:  # a paragraph break: no phrase runs across it (mask None)
            plain, mask = plain + " ", mask + [None]
        plain, mask = plain + p, mask + m
    return plain, mask


def token_spans(plain, mask):
    spans = []
    for m in re.finditer(r"\S+", plain):
        s, e = m.start(), m.end()
        clean = all(mask[s:e])
        spans.append((s, e, clean))
    return spans


def trim_phrase(text):
    """Drops punctuation at the ends of a run of words (brackets only when unbalanced)."""
    while True:
        before = text
        text = re.sub(r"^[\"']+", "", text)
        text = re.sub(r"[\"',;:.!?]+$", "", text)
        if text.startswith(("(", "[")) and text.count(text[0]) > text.count(")]"["([".index(text[0])]):
            text = text[1:]
        if text.endswith((")", "]")) and text.count(text[-1]) > text.count("(["[")]".index(text[-1])]):
            text = text[:-1]
        if text == before:
            return text


STOP = set("a an the of to and or for in on at by with from as is are be was were been it its "
           "this that these those there which who whom whose what when where why how if so but "
           "not no do does did can could will would shall should may might must has have had "
           "than then also only into onto about such you your i my me we our they them their "
           "he she his her get".split())


def candidate_phrases(plain, mask, lo, hi, sizes=(8, 7, 9, 6, 10, 5, 11, 12, 4)):
    """Runs of clean tokens that start inside [lo, hi): earliest start first, then a length
    near 8; first those of 5+ words that end within the sentence and on a content word and
    have 3+ content words, then the rest."""
    spans = token_spans(plain, mask)
    good, fallback = [], []
    for k in range(len(spans)):
        for size in sizes:
            if not (lo <= spans[k][0] < hi):
                continue
            run = spans[k:k + size]
            if len(run) < size or not all(c for _, _, c in run):
                continue
            s, e = run[0][0], run[-1][1]
            if any(m is None for m in mask[s:e]):
                continue
            text = trim_phrase(plain[s:e])
            off = s + plain[s:e].index(text)
            toks = text.split()
            if len(toks) < 4 or len(toks) > 12:
                continue
            if not (re.search(r"\w", toks[0]) and re.search(r"\w", toks[-1])):
                continue
            if len([t for t in toks if re.search(r"[A-Za-z]", t)]) < 3:
                continue
            last = re.sub(r"\W+$", "", toks[-1].lower())
            content = [t for t in toks if re.sub(r"\W+", "", t.lower()) not in STOP]
            ok = last not in STOP and len(content) >= 3 and len(toks) >= 5 and e <= hi
            (good if ok else fallback).append((text, off, off + len(text)))
    return good, fallback


def sentences_of(plain):
    bounds = [0] + [m.end() for m in SENT_END.finditer(plain)] + [len(plain)]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def choose_phrases(paras, own_key, all_texts):
    """→ [(phrase, index of its paragraph)]. One paragraph: a phrase from its first sentence
    (or the earliest that has one) and one from the next sentence, within the first ~550
    characters. Two list items: one phrase from the start of each. Each phrase is unique to its
    own section in the whole set."""

    def unique(p):
        n = normalise(p)
        return not any(n in t for k, t in all_texts.items() if k != own_key)

    chosen = []  # (phrase, paragraph index, start, end)

    def take(plain, mask, lo, hi, idx, tier):
        cands = candidate_phrases(plain, mask, lo, hi)[tier]
        for p, a, b in cands:
            if any(i == idx and a < e and s < b for _, i, s, e in chosen):
                continue  # overlaps the phrase already taken
            if unique(p) and all(normalise(p) != normalise(c) for c, *_ in chosen):
                chosen.append((p, idx, a, b))
                return True
        return False

    for tier in (0, 1):  # a well-formed phrase inside one sentence first, else any run
        if len(paras) == 1:
            plain, mask, _ = paras[0]
            for n, (lo, hi) in enumerate(sentences_of(plain)):
                if len(chosen) == 2 or lo > 550 or (not chosen and n > 0 and lo > 400):
                    break
                take(plain, mask, lo, hi, 0, tier)
        else:
            for idx, (plain, mask, _) in enumerate(paras):
                if any(i == idx for _, i, *_ in chosen):
                    continue
                for lo, hi in sentences_of(plain)[:2]:
                    if take(plain, mask, lo, hi, idx, tier):
                        break
        if chosen:
            break
    chosen.sort(key=lambda c: (c[1], c[2]))
    return [(p, i) for p, i, _, _ in chosen]


# --------------------------------------------------------------------------------------------
# Building a set
# --------------------------------------------------------------------------------------------


def question_skip(title):
    """None when a FAQ entry title reads as a question: it asks one ("...?"), or it states a
    problem in a sentence ("I'm on Windows and my text files are detected as binary."), as
    opposed to a topic label ("dpkg", "Sources of information", "More architectures");
    else why not."""
    if not ("?" in title or len(title.split()) >= 8):
        return "title is not a question"
    if not any(w not in STOP for w in words_of(title)):
        return "question only makes sense under its chapter title"  # zsh "What is it?"
    return None


def neutral_heading(e):
    """`Entry 3.4` from the FAQ's own number (or the reader's `Part 2, item 1`); None for
    unnumbered end matter, which becomes `Note N`."""
    return e.get("heading") or (f"Entry {e['num']}" if e["num"] else None)


def build_set(s):
    articles = READERS[s["name"]](s)
    for a in articles:
        notes = 0
        for e in a["entries"]:
            h = neutral_heading(e)
            if h is None:
                notes += 1
                h = f"Note {notes}"
            e["heading"] = h
            e["skip"] = question_skip(e["title"])
            e["question"] = None if e["skip"] else e["title"]
    return articles


def write_set(s, articles):
    out_dir = os.path.join(HERE, s["name"], "corpus")
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    texts = {}
    for a in articles:
        md = render_article(a)
        path = os.path.join(out_dir, f"{a['slug']}.md")
        with open(path, "w", encoding="utf-8") as f:
            f.write(md)
        texts[a["slug"]] = md
    return texts


def fail(msg):
    print(f"build.py: {msg}", file=sys.stderr)
    sys.exit(1)


def in_domain_questions(s, articles, texts):
    # every section of the generated corpus, markup removed, keyed (slug, heading)
    sec_text, sec_paras = {}, {}
    for a in articles:
        for heading, paras in md_sections(texts[a["slug"]]):
            key = (a["slug"], heading)
            if key in sec_text:
                fail(f"{s['name']}: duplicate heading {heading!r} in {a['slug']}")
            sec_text[key] = normalise(" ".join(t for t, _ in paras))
            sec_paras[key] = [(normalise(t), item) for t, item in paras]
    questions, skipped = [], {}
    seen_q = {}
    for a in articles:
        for e in a["entries"]:
            key = (a["slug"], e["heading"])
            if not e["question"]:
                skipped[e["skip"]] = skipped.get(e["skip"], 0) + 1
                continue
            fp, why = first_prose(e["blocks"])
            if fp is None:
                skipped[why] = skipped.get(why, 0) + 1
                continue
            if len(fp[0][0].split()) < 5:
                skipped["first paragraph under 5 words"] = \
                    skipped.get("first paragraph under 5 words", 0) + 1
                continue
            chosen = choose_phrases(fp, key, sec_text)
            phrases = [p for p, _ in chosen]
            if not phrases:
                why = "no run of 4-12 plain words unique to the entry"
                skipped[why] = skipped.get(why, 0) + 1
                continue
            q = WS.sub(" ", e["question"]).strip()
            if normalise(q) in seen_q:
                skipped["duplicate question"] = skipped.get("duplicate question", 0) + 1
                continue
            seen_q[normalise(q)] = key
            # validation against the Markdown as written
            paras = sec_paras[key]
            for p, idx in chosen:
                n = normalise(p)
                if fp[0][2]:  # list items: the idx-th item of the section's first list
                    first_items = [t for t, item in paras[(0 if paras[0][1] else 1):] if item]
                    if idx >= len(first_items) or n not in first_items[idx]:
                        fail(f"{s['name']}: phrase {p!r} not in list item {idx + 1} of {key}")
                elif not paras or n not in paras[0][0]:
                    fail(f"{s['name']}: phrase {p!r} not in the first paragraph of {key}")
                others = [k for k, t in sec_text.items() if n in t and k != key]
                if others:
                    fail(f"{s['name']}: phrase {p!r} of {key} also in {others}")
                if any(c in p for c in "*`[]\\<>_"):
                    fail(f"{s['name']}: markup in phrase {p!r}")
                if not 4 <= len(p.split()) <= 12:
                    fail(f"{s['name']}: phrase {p!r} is not 4-12 words")
            hw, qw = set(words_of(e["heading"])), set(words_of(q))
            if len(hw & qw) >= 3 or not re.fullmatch(r"(Entry|Part|Note) [\w., ]+", e["heading"]):
                fail(f"{s['name']}: heading {e['heading']!r} is not neutral for {q!r}")
            if normalise(q) in sec_text[key]:
                fail(f"{s['name']}: the question {q!r} appears in its own section")
            questions.append({"q": q, "expect": phrases, "_key": key})
    return questions, skipped


def marked(q, s):
    return re.search(rf"(?<![\w.])(?:{s['marker']})(?![\w])", q, re.I) is not None


def mentions(q, s):
    return re.search(rf"(?<![\w.])(?:{s['keywords']})(?![\w])", q, re.I) is not None


def hkey(*parts):
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def off_topic(s, n_in, pools, far_offset):
    off_total = max(12, round(n_in / 3))
    n_far = min(len(FAR_QUESTIONS), max(5, round(off_total * 0.35)))
    n_near = off_total - n_far
    others = [o for o in SETS if o["name"] != s["name"]]
    own = {normalise(q["q"]) for q in pools[s["name"]]}
    queues = []
    for o in others:
        cands = [q["q"] for q in pools[o["name"]]
                 if marked(q["q"], o) and not mentions(q["q"], s)
                 and normalise(q["q"]) not in own]
        cands.sort(key=lambda q: hkey(s["name"], q))
        queues.append(cands)
    near, k = [], 0
    while len(near) < n_near and any(queues):
        qq = queues[k % len(queues)]
        if qq:
            near.append(qq.pop(0))
        k += 1
    far = [FAR_QUESTIONS[(far_offset + i) % len(FAR_QUESTIONS)] for i in range(n_far)]
    return near, far


def count_entries(articles):
    return sum(len(a["entries"]) for a in articles)


def main():
    ensure_packages()
    manifest = {"builder": "tests/eval/generalisation/build.py", "sets": []}
    built, pools = [], {}
    for s in SETS:
        version = installed_version(s["package"])
        if version != s["expected_version"]:
            print(f"warning: {s['package']} is {version}, the committed sets were built from "
                  f"{s['expected_version']}", file=sys.stderr)
        articles = build_set(s)
        texts = write_set(s, articles)
        qs, skipped = in_domain_questions(s, articles, texts)
        pools[s["name"]] = qs
        size = sum(len(t.encode()) for t in texts.values())
        if size > 1_500_000:
            fail(f"{s['name']}: corpus is {size} bytes")
        built.append((s, version, articles, texts, qs, skipped, size))

    summary = []
    far_offset = 0
    for s, version, articles, texts, qs, skipped, size in built:
        near, far = off_topic(s, len(qs), pools, far_offset)
        far_offset += len(far)
        path = os.path.join(HERE, f"{s['name']}-questions.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for q in qs:
                f.write(json.dumps({"q": q["q"], "expect": q["expect"]}, ensure_ascii=False)
                        + "\n")
            for q in near:
                f.write(json.dumps({"q": q, "ood": "near"}, ensure_ascii=False) + "\n")
            for q in far:
                f.write(json.dumps({"q": q, "ood": "far"}, ensure_ascii=False) + "\n")
        counts = {
            "articles": len(articles),
            "entries": count_entries(articles),
            "in_domain": len(qs),
            "near": len(near),
            "far": len(far),
            "corpus_bytes": size,
            "skipped_entries": dict(sorted(skipped.items())),
        }
        manifest["sets"].append({
            "name": s["name"],
            "package": s["package"],
            "version": version,
            "sources": [{"path": p, "sha256": sha256_file(p)} for p in s["files"]],
            "copyright_file": s["copyright"],
            "counts": counts,
        })
        summary.append((s, version, counts))
        print(f"{s['name']:11} {s['package']} {version}: {counts['articles']} articles, "
              f"{counts['entries']} sections, {counts['in_domain']} in-domain, "
              f"{counts['near']} near, {counts['far']} far, {size} bytes; skipped "
              f"{counts['skipped_entries'] or 'none'}")
    with open(os.path.join(HERE, "MANIFEST.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    write_readme(summary)


def write_readme(summary):
    rows = []
    for s, version, c in summary:
        rows.append(f"| `{s['name']}` | `{s['package']}` {version} | {c['articles']} | "
                    f"{c['entries']} | {c['in_domain']} | {c['near']} | {c['far']} |")
    sets = []
    for s, version, c in summary:
        files = ", ".join(f"`{p}`" for p in s["files"]) if len(s["files"]) <= 2 else \
            f"`{os.path.dirname(s['files'][0])}/` ({len(s['files'])} files, listed in " \
            f"MANIFEST.json)"
        skipped = "; ".join(f"{k}: {v}" for k, v in c["skipped_entries"].items()) or "none"
        sets.append(f"### {s['name']}\n\n{s['what']}\n\n- Source: package `{s['package']}` "
                    f"{version}, {files}.\n- Licence: {s['licence']}\n- Entries without an "
                    f"in-domain question: {skipped}.\n")
    text = f"""# Generalisation sets

Question sets on corpora the bot was never tuned on: real FAQ documents that Debian packages ship,
as written by their authors. Each set `NAME` has

- `NAME/corpus/*.md`: one article per FAQ page or chapter, `# ` the FAQ's own title; every FAQ
  entry is a section under a neutral heading (`## Entry 3.4`, `## Part 2, item 1`, `## Note 1` for
  unnumbered end matter) that repeats no word of the question, and its answer follows as the
  authors wrote it (HTML, AsciiDoc or plain-text markup removed; lists and examples kept). The
  question itself is not in the corpus.
- `NAME-questions.jsonl`: the eval format. In-domain lines are
  `{{"q": <the FAQ's own question>, "expect": [...]}}`, with one or two verbatim runs of 4-12 words
  from the first paragraph of that entry's answer (the first sentence first), each found in that
  section and in no other section of the set. Off-topic lines are `{{"ood": "near"}}`, questions of
  the *other* FAQs here, and `{{"ood": "far"}}`, everyday questions (one fixed list, rotated across
  the sets). In-domain lines come first, in FAQ order, then near, then far.

What was left out or changed, beyond markup: DocBook cross-references keep only "Section 7.3"
(the stylesheet's copy of the target's title, i.e. another entry's question, is dropped), footnote
markers and footnotes, navigation and tables of contents (the Debian FAQ's title page
`index.en.html`, zsh's `FAQ.html`, the Vim FAQ's INDEX and its closing "Current Maintainer"
note), and the gitfaq man page's NAME/SYNOPSIS/GIT sections. A chapter's introduction stays,
before its first entry.

Expect phrases: when an answer opens with a list, or with a lone one-sentence lead-in ("...as
follows:") that citebot folds into the list as context instead of quoting it, the phrases come
from the first two list items (one each, never across the item's paragraphs). Entries get no
in-domain question when their title is not a question (Debian FAQ "8.1.1. dpkg", zsh FAQ "1.1:
Sources of information"; a title without "?" counts when it states a problem in 8+ words, as
gitfaq's and a few of the Vim FAQ's do), when the question means nothing outside its chapter
(zsh "What is it?", "Where do I get it?"), when the answer opens with code, when its first
paragraph has fewer than 5 words ("Yes.", "Use the following mapping:"), or when no run of
plain words there is unique to the entry. Counts per reason are in MANIFEST.json.

Off-topic counts: a third of the in-domain count (at least 12), 35% of it far (at most the 20 of
the list). Near questions are taken round-robin from the other sets, only those that name their
own product or its core terms (Debian/dpkg/apt/package..., Vim/vi/vimrc..., zsh, git/commit/
merge/credential...) and none of this set's subject words, in a fixed pseudo-random order.

| set | source package | articles | sections | in-domain | near | far |
| --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

{chr(10).join(sets)}
## Rebuilding

    python3 tests/eval/generalisation/build.py

Standard library only; it installs the packages above with apt-get when they are missing
(root, after `apt-get update`), rewrites every output here, checks each expect phrase against the
generated Markdown and each heading against its question, and prints the counts. MANIFEST.json
records package, version and sha256 of every source file; with the same versions the output is
byte-for-byte the same. Do not hand-edit the outputs: change `build.py` and rerun it.
"""
    with open(os.path.join(HERE, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
