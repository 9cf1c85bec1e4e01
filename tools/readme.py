"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto, which cannot be installed everywhere).

Markdown cells are copied; code cells become ```python blocks followed by their saved text output; cells marked
`#| hide` are left out and directive lines (`#| ...`) are dropped; image paths become absolute URLs of the raw files on
GitHub's main branch (the repository named under [project.urls] in pyproject.toml), so the image shows on PyPI too.
Usage: python tools/readme.py [--check]   (--check: exit 1 if README.md is out of date, change nothing)
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NB, README = ROOT / "nbs" / "index.ipynb", ROOT / "README.md"


def raw_base():
    "https://raw.githubusercontent.com/OWNER/REPO/main/nbs/ from pyproject.toml's `Repository = \"https://github.com/OWNER/REPO\"`."
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # a regex, not tomllib: Python 3.10 has no tomllib
    m = re.search(r'^Repository\s*=\s*"https://github\.com/([^/"]+)/([^/"]+?)/?"', text, re.M)
    if not m: sys.exit("pyproject.toml: [project.urls] needs Repository = \"https://github.com/OWNER/REPO\"")
    return f"https://raw.githubusercontent.com/{m[1]}/{m[2]}/main/nbs/"


def cell_text(cell):
    src = "".join(cell["source"])
    lines = src.splitlines()
    if any(re.match(r"^#\|\s*hide\s*$", l) for l in lines): return None
    lines = [l for l in lines if not re.match(r"^#\|", l)]
    body = "\n".join(lines).strip("\n")
    if not body: return None
    if cell["cell_type"] == "markdown":
        return re.sub(r"\]\((?!https?:)(images/)", lambda m: f"]({raw_base()}{m[1]}", body)
    out = f"```python\n{body}\n```"
    texts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream" and o.get("name") == "stdout": texts.append("".join(o["text"]))
        elif "data" in o and "text/plain" in o["data"]: texts.append("".join(o["data"]["text/plain"]))
    if texts: out += "\n\n```\n" + "".join(texts).rstrip("\n") + "\n```"
    return out


def render():
    nb = json.loads(NB.read_text(encoding="utf-8"))
    parts = [t for t in map(cell_text, nb["cells"]) if t]
    header = "<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file. -->\n\n"
    return header + "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        if not README.exists() or README.read_text(encoding="utf-8") != text:
            print("README.md is out of date: run python tools/readme.py"); sys.exit(1)
        sys.exit(0)
    README.write_text(text, encoding="utf-8")
    print(f"wrote {README}")
