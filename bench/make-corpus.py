#!/usr/bin/env python3
"""Makes the scale corpora for the benchmarks: real English prose from Debian's documentation
packages, converted to Markdown articles.

Sources (installed with apt-get when missing):
  - python3.11-doc      the Python 3.11 manual (HTML)
  - postgresql-doc-15   the PostgreSQL 15 manual (HTML)
  - perl-doc            the Perl 5.36 manual pages and FAQ (POD)
  - git-doc             the Git 2.39 manual pages, user manual and guides (HTML)

Each manual page becomes one article (a page with more than SPLIT_PASSAGES passages is split into one
article per second-level section), with YAML front matter (`title`, `source`), `#`/`##`/`###`
headings, paragraphs and list items. Code blocks, tables, navigation and signatures are left out:
what remains is prose a support bot would quote.

Output (git-ignored):
  bench/data/corpus-1k/    about   1,000 passages
  bench/data/corpus-10k/   about  10,000 passages
  bench/data/corpus-100k/  about 100,000 passages
  bench/data/MANIFEST.json package versions, article and passage counts

The three corpora are nested (1k in 10k in 100k): articles are taken in a fixed pseudo-random order
(seeded) until the passage count reaches each size. The output is a pure function of the installed
package versions, which MANIFEST.json records.

It then runs make-queries.py on the new corpora (unless --no-queries).

Usage: python3 bench/make-corpus.py [--out bench/data] [--no-install] [--no-queries]
"""

import argparse
import glob
import hashlib
import html
import html.parser
import json
import os
import random
import re
import shutil
import subprocess
import sys

SIZES = [("1k", 1_000), ("10k", 10_000), ("100k", 100_000)]
PACKAGES = ["python3.11-doc", "postgresql-doc-15", "perl-doc", "git-doc"]
SPLIT_PASSAGES = 120
MIN_WORDS = 5
SEED = 20260108

PY_HTML = "/usr/share/doc/python3.11/html"
PG_HTML = "/usr/share/doc/postgresql-doc-15/html"
PERL_POD = "/usr/share/perl/5.36.0/pod"
GIT_HTML = "/usr/share/doc/git-doc"


# ---------------------------------------------------------------------------------------------
# Installation


def ensure_packages(install):
    missing = [p for p in PACKAGES if not installed(p)]
    if not missing:
        return
    if not install:
        sys.exit(f"missing Debian packages: {' '.join(missing)} (run without --no-install, as root)")
    print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def installed(package):
    r = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status} ${Version}", package], capture_output=True, text=True
    )
    return r.returncode == 0 and r.stdout.startswith("install ok installed")


def version(package):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    return r.stdout.strip()


# ---------------------------------------------------------------------------------------------
# A page: a title and blocks. A block is ("h", level, text), ("p", text) or ("li", text).


def clean(text):
    text = text.replace("\u00b6", " ").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def prose(text):
    return len(text.split()) >= MIN_WORDS and sum(c.isalpha() for c in text) >= 0.6 * len(text)


VOID = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
SKIP_TAGS = {"pre", "table", "script", "style", "dt", "head", "object", "svg", "math", "nav"}
SKIP_CLASSES = {
    "headerlink", "admonition-title", "navheader", "navfooter", "toc", "sphinxsidebar",
    "related", "footer", "highlight", "doctest", "toctree-wrapper", "contents", "indexterm",
    "refsynopsisdiv", "versionmodified", "mobile-nav", "cmdsynopsis", "funcsynopsis",
}


class HtmlPage(html.parser.HTMLParser):
    """Collects headings, paragraphs and list items of one manual page."""

    def __init__(self, root_class):
        super().__init__(convert_charrefs=True)
        self.root_class = root_class  # only text inside an element with this class or id counts
        self.stack = []  # (tag, skip, root, block)
        self.blocks = []
        self.buf = None
        self.buf_kind = None
        self.li_open = 0  # <li> whose first paragraph is still to come
        self.title_buf = None
        self.title = None

    def _skipping(self):
        return any(s for _, s, _, _ in self.stack)

    def _in_root(self):
        return self.root_class is None or any(r for _, _, r, _ in self.stack)

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        if tag == "title":
            self.title_buf = []
        skip = (
            tag in SKIP_TAGS
            or bool(classes & SKIP_CLASSES)
            or (tag == "p" and "title" in classes)
            or any(c.startswith("highlight") for c in classes)
        )
        root = self.root_class is not None and (self.root_class in classes or a.get("id") == self.root_class)
        block = None
        if not self._skipping() and not skip and (self._in_root() or root) and self.buf is None:
            if tag in ("h1", "h2", "h3", "h4", "h5"):
                block = ("h", int(tag[1]))
            elif tag == "p":
                block = ("li",) if self.li_open else ("p",)
                self.li_open = 0
            if block:
                self.buf = []
                self.buf_kind = block
        if tag == "li":
            self.li_open = 1
        self.stack.append((tag, skip, root, block))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not any(t == tag for t, _, _, _ in self.stack):
            return
        if tag == "title" and self.title_buf is not None and self.title is None:
            self.title = clean("".join(self.title_buf))
        while self.stack:
            t, _, _, block = self.stack.pop()
            if block is not None and self.buf is not None:
                text = clean("".join(self.buf))
                kind = self.buf_kind
                self.buf = None
                if kind[0] == "h":
                    text = re.sub(r"^(?:[A-Z]\.)?[0-9]+(?:\.[0-9]+)*\.?\s+", "", text)
                    if text:
                        self.blocks.append(("h", kind[1], text))
                elif prose(text):
                    self.blocks.append((kind[0], text))
            if t == "li":
                self.li_open = 0
            if t == tag:
                break

    def handle_data(self, data):
        if self.title_buf is not None and self.title is None:
            self.title_buf.append(data)
        if self.buf is not None and not self._skipping():
            self.buf.append(data)


def html_pages(root, sub_glob, root_class, source_name):
    for path in sorted(glob.glob(os.path.join(root, sub_glob), recursive=True)):
        rel = os.path.relpath(path, root)
        if rel.startswith("_") or rel.startswith("genindex") or rel.startswith("search"):
            continue
        parser = HtmlPage(root_class)
        with open(path, encoding="utf-8", errors="replace") as f:
            parser.feed(f.read())
        parser.close()
        title = re.sub(r"\s+[\u2014-]+\s+Python [0-9.]+ documentation$", "", parser.title or "")
        title = re.sub(r"^(?:[A-Z]\.)?[0-9]+(?:\.[0-9]+)*\.?\s+", "", title)
        yield f"{source_name} {rel}", title, parser.blocks


# ---------------------------------------------------------------------------------------------
# POD


POD_CODE = re.compile(r"[A-Z]<(?:<+\s)?")


def pod_text(text):
    """Removes POD formatting codes (B<..>, C<< .. >>, L<text|target>, E<gt> ...)."""
    out = []
    i = 0
    closers = []
    while i < len(text):
        m = POD_CODE.match(text, i)
        if m:
            code = text[i]
            opener = m.group(0)
            n = opener.count("<")
            closers.append((code, ">" * n if n == 1 else " " + ">" * n, len(out)))
            i = m.end()
            continue
        if closers:
            code, closer, start = closers[-1]
            if text.startswith(closer, i) or (closer.startswith(" ") and text.startswith(closer[1:], i)):
                inner = "".join(out[start:])
                del out[start:]
                out.append(pod_code(code, inner.strip() if len(closer) > 1 else inner))
                closers.pop()
                i += len(closer) if text.startswith(closer, i) else len(closer) - 1
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


POD_ESCAPES = {"lt": "<", "gt": ">", "verbar": "|", "sol": "/", "quot": '"', "amp": "&"}


def pod_code(code, inner):
    if code == "E":
        if inner.isdigit():
            return chr(int(inner))
        return POD_ESCAPES.get(inner, html.unescape(f"&{inner};"))
    if code in "XZ":
        return ""
    if code == "L":
        if "|" in inner:
            return inner.split("|", 1)[0]
        inner = inner.strip('"')
        if inner.startswith("http"):
            return inner
        if "/" in inner:
            page, sect = inner.split("/", 1)
            sect = sect.strip('"')
            return f'"{sect}" in {page}' if page else f'"{sect}"'
        return inner
    return inner


def pod_pages(root, source_name):
    for path in sorted(glob.glob(os.path.join(root, "*.pod"))):
        rel = os.path.basename(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        blocks = []
        over = []  # stack: bullet lists vs definition lists
        item_pending = False
        name_next = False
        for para in re.split(r"\n\s*\n", text):
            if not para.strip():
                continue
            if para[0] in " \t":  # verbatim (code)
                continue
            if para.startswith("="):
                cmd, _, rest = para.partition(" ")
                rest = clean(pod_text(rest))
                if cmd.startswith("=head"):
                    level = int(cmd[5:6] or 1)
                    name_next = rest == "NAME"
                    if not name_next:
                        blocks.append(("h", level + 1, rest))
                elif cmd == "=over":
                    over.append(False)
                elif cmd == "=back":
                    if over:
                        over.pop()
                elif cmd == "=item":
                    bullet = rest in ("", "*") or re.fullmatch(r"[0-9]+\.?", rest) is not None
                    if over:
                        over[-1] = bullet
                    if not bullet and prose(rest):
                        blocks.append(("li", rest))
                    item_pending = bullet
                continue
            body = clean(pod_text(para))
            if name_next:
                blocks.insert(0, ("h", 1, body))
                name_next = False
                continue
            if prose(body):
                blocks.append(("li" if item_pending or (over and over[-1]) else "p", body))
            item_pending = False
        if not (blocks and blocks[0][0] == "h" and blocks[0][1] == 1):
            blocks.insert(0, ("h", 1, rel))
        title = blocks[0][2]
        yield f"{source_name} {rel}", title, blocks


# ---------------------------------------------------------------------------------------------
# Pages to articles


def articles_of(source, title, blocks):
    """One article per page, or one per second-level section when the page is long. Headings at the
    page's top level restate its title and are dropped."""
    top = min((b[1] for b in blocks if b[0] == "h"), default=1)
    if not title:
        return []
    passages = sum(1 for b in blocks if b[0] != "h")
    if passages == 0:
        return []
    if passages <= SPLIT_PASSAGES:
        return [(title, source, blocks)]
    out = []
    current = (title, [])
    for b in blocks:
        if b[0] == "h" and b[1] == top + 1:
            out.append(current)
            current = (f"{title}: {b[2]}", [])
        elif b[0] == "h" and b[1] == top:
            continue
        else:
            current[1].append(b)
    out.append(current)
    result = []
    for i, (t, bs) in enumerate(out):
        if any(b[0] != "h" for b in bs):
            result.append((t, f"{source} part {i}", bs))
    return result


MD_ESCAPE = re.compile(r"([\\`*_\[\]<>|&#~!$])")


def md(text):
    text = MD_ESCAPE.sub(r"\\\1", text)
    if re.match(r"^([-+=>]|[0-9]+[.)])", text):
        text = "\\" + text
    return text


def markdown(title, source, blocks):
    top = min((b[1] for b in blocks if b[0] == "h"), default=1)
    lines = ["---", f"title: {json.dumps(title)}", f"source: {json.dumps(source)}", "---", "", f"# {md(title)}"]
    prev = None
    for b in blocks:
        if b[0] == "h":
            if b[1] <= top:
                continue
            level = min(b[1] - top + 1, 3)
            lines += ["", "#" * level + " " + md(b[2])]
            prev = "h"
        elif b[0] == "p":
            lines += ["", md(b[1])]
            prev = "p"
        else:
            if prev != "li":
                lines.append("")
            lines.append("- " + md(b[1]))
            prev = "li"
    return "\n".join(lines) + "\n"


def slug(text):
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:60].rstrip("-") or "article"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    ap.add_argument("--no-install", action="store_true", help="fail instead of running apt-get")
    ap.add_argument("--no-queries", action="store_true", help="do not run make-queries.py afterwards")
    args = ap.parse_args()
    ensure_packages(not args.no_install)

    pages = []
    pages += html_pages(PY_HTML, "**/*.html", "body", "python3.11-doc")
    pages += html_pages(PG_HTML, "*.html", None, "postgresql-doc-15")
    pages += pod_pages(PERL_POD, "perl-doc")
    pages += html_pages(GIT_HTML, "**/*.html", "content", "git-doc")
    articles = []
    for source, title, blocks in pages:
        articles += articles_of(source, title, blocks)
    articles.sort(key=lambda a: a[1])
    random.Random(SEED).shuffle(articles)
    total = sum(sum(1 for b in a[2] if b[0] != "h") for a in articles)
    print(f"{len(articles)} articles, {total} passages available", file=sys.stderr)
    if total < SIZES[-1][1]:
        sys.exit(f"only {total} passages available, fewer than {SIZES[-1][1]}")

    manifest = {"packages": {p: version(p) for p in PACKAGES}, "seed": SEED, "corpora": {}}
    for name, target in SIZES:
        out = os.path.join(args.out, f"corpus-{name}")
        if os.path.exists(out):
            shutil.rmtree(out)
        os.makedirs(out)
        count = 0
        n = 0
        digest = hashlib.sha256()
        used = set()
        for title, source, blocks in articles:
            if count >= target:
                break
            base = slug(title)
            fname = base
            k = 2
            while fname in used:
                fname = f"{base}-{k}"
                k += 1
            used.add(fname)
            text = markdown(title, source, blocks)
            digest.update(text.encode())
            with open(os.path.join(out, fname + ".md"), "w", encoding="utf-8") as f:
                f.write(text)
            count += sum(1 for b in blocks if b[0] != "h")
            n += 1
        manifest["corpora"][name] = {"articles": n, "passages": count, "sha256": digest.hexdigest()}
        print(f"corpus-{name}: {n} articles, {count} passages -> {out}", file=sys.stderr)
    with open(os.path.join(args.out, "MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    if not args.no_queries:
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run([sys.executable, os.path.join(here, "make-queries.py"), "--data", args.out], check=True)


if __name__ == "__main__":
    main()
