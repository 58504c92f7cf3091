"""The book's table of contents (_toc.yml), read the way the tests need it."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TOC_PATH = ROOT / "_toc.yml"
SOURCE_SUFFIXES = (".md", ".ipynb")


def toc_documents(toc_path=TOC_PATH):
    """Every page of the book in reading order, as paths relative to the repository root
    without suffix (the way _toc.yml names them), the root page first."""
    toc = yaml.safe_load(Path(toc_path).read_text(encoding="utf-8"))
    documents = [toc["root"]]

    def collect(entries):
        for entry in entries or []:
            if "file" in entry:
                documents.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                collect(entry.get(key))

    collect([{key: toc.get(key) for key in ("parts", "chapters", "sections")}])
    return [str(Path(document).with_suffix("")) for document in documents]


def source_file(document):
    """The existing .md or .ipynb file of a toc entry, or None."""
    for suffix in SOURCE_SUFFIXES:
        path = ROOT / (document + suffix)
        if path.is_file():
            return path
    return None
