"""Identity-provider guides: Markdown files (docs/guides/<provider>.md) read once and rendered to safe HTML.

A guide starts with a front matter block (`name`, `protocols` with the recommended one first,
`saml_source` = url|xml|fields, `order`), then text common to both protocols, then `## SAML` and/or
`## OpenID Connect` sections with the steps in that IdP's admin console. Other `##` sections are common.
`{{acs_url}}`, `{{entity_id}}`, `{{metadata_url}}`, `{{redirect_uri}}` become the connection's values with
a copy button; `{{product}}` becomes the product name. The Markdown is a small subset (headings, ordered
and bulleted lists with one level of nesting, notes as `>` quotes, fenced code, `code`, **bold**,
[links](https://…)), rendered here so that every character is escaped and no HTML passes through.
"""
import html
import re
from dataclasses import dataclass
from pathlib import Path

GUIDES_DIR = Path(__file__).parent / "guides"
PROTOCOL_SECTIONS = {"SAML": "saml", "OpenID Connect": "oidc"}
PROTOCOL_NAMES = {"saml": "SAML 2.0", "oidc": "OpenID Connect"}
SOURCES = ("url", "xml", "fields")
COPYABLE = {
    "acs_url": "ACS URL",
    "entity_id": "SP entity ID",
    "metadata_url": "SP metadata URL",
    "redirect_uri": "Redirect URI",
}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_INLINE = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|\[([^\]]+)\]\((https://[^)\s]+)\)|\{\{\s*([a-z_]+)\s*\}\}")
_ORDERED = re.compile(r"^(\d+)\.\s+(.*)$")
_NESTED = re.compile(r"^\s{2,}[-*]\s+(.*)$")


class GuideError(ValueError):
    """A guide file that does not follow the format (caught by the unit tests, never at run time)."""


@dataclass(frozen=True)
class Guide:
    provider: str
    name: str
    protocols: tuple[str, ...]  # the recommended one first
    saml_source: str
    order: int
    intro: str  # Markdown common to both protocols (before the first protocol section)
    sections: dict[str, str]  # protocol -> Markdown
    common_after: str  # Markdown of other `##` sections, shown for every protocol

    def markdown_for(self, protocol: str) -> str:
        return "\n\n".join(part for part in (self.intro, self.sections[protocol], self.common_after) if part.strip())


def parse_guide(provider: str, text: str) -> Guide:
    if not text.startswith("---\n"):
        raise GuideError(f"{provider}: a guide starts with a --- front matter block")
    front, _, body = text[4:].partition("\n---\n")
    meta: dict[str, str] = {}
    for line in front.splitlines():
        key, colon, value = line.partition(":")
        if not colon:
            raise GuideError(f"{provider}: front matter line without a colon: {line!r}")
        meta[key.strip()] = value.strip()
    protocols = tuple(p.strip() for p in meta.get("protocols", "").split(",") if p.strip())
    if not protocols or any(p not in PROTOCOL_NAMES for p in protocols):
        raise GuideError(f"{provider}: protocols must list saml and/or oidc")
    saml_source = meta.get("saml_source", "url")
    if saml_source not in SOURCES:
        raise GuideError(f"{provider}: saml_source must be one of {', '.join(SOURCES)}")
    intro_lines: list[str] = []
    sections: dict[str, list[str]] = {}
    after: list[str] = []
    current = intro_lines
    for line in body.splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            if title in PROTOCOL_SECTIONS:
                current = sections.setdefault(PROTOCOL_SECTIONS[title], [])
                continue
            current = after
        current.append(line)
    if set(sections) != set(protocols):
        raise GuideError(f"{provider}: sections {sorted(sections)} do not match protocols {list(protocols)}")
    return Guide(
        provider=provider,
        name=meta.get("name") or provider,
        protocols=protocols,
        saml_source=saml_source,
        order=int(meta.get("order", "100")),
        intro="\n".join(intro_lines).strip(),
        sections={protocol: "\n".join(lines).strip() for protocol, lines in sections.items()},
        common_after="\n".join(after).strip(),
    )


def load_guides(folder: Path = GUIDES_DIR) -> dict[str, Guide]:
    """Every guide in the folder, by provider key (the file name), in display order."""
    guides = [parse_guide(path.stem, path.read_text(encoding="utf-8")) for path in folder.glob("*.md")]
    guides.sort(key=lambda guide: (guide.order, guide.name))
    return {guide.provider: guide for guide in guides}


# Rendering ---------------------------------------------------------------------------------------


def copy_value(name: str, value: str, *, block: bool = False) -> str:
    """A value the admin pastes into their IdP, with a button that copies it."""
    label = COPYABLE.get(name, name)
    tag = "div" if block else "span"
    return (
        f'<{tag} class="copy-value"><code>{html.escape(value)}</code>'
        f'<button type="button" class="copy" data-copy="{html.escape(value, quote=True)}" '
        f'aria-label="Copy {html.escape(label)}">Copy</button></{tag}>'
    )


class _Renderer:
    def __init__(self, values: dict[str, str], product: str) -> None:
        self.values = values
        self.product = product

    def placeholder(self, name: str, *, in_code: bool = False) -> str:
        if name == "product":
            return html.escape(self.product)
        if name not in self.values:
            raise GuideError(f"placeholder {{{{{name}}}}} has no value here")
        return html.escape(self.values[name]) if in_code else copy_value(name, self.values[name])

    def inline(self, text: str) -> str:
        out: list[str] = []
        position = 0
        for match in _INLINE.finditer(text):
            out.append(html.escape(text[position : match.start()]))
            code, bold, link_text, link_url, placeholder = match.groups()
            if code is not None:
                out.append(f"<code>{_PLACEHOLDER.sub(lambda m: self.placeholder(m[1], in_code=True), html.escape(code))}</code>")
            elif bold is not None:
                out.append(f"<strong>{self.inline(bold)}</strong>")
            elif link_url is not None:
                out.append(
                    f'<a href="{html.escape(link_url, quote=True)}" target="_blank" rel="noopener noreferrer">'
                    f"{self.inline(link_text)}</a>"
                )
            else:
                out.append(self.placeholder(placeholder))
            position = match.end()
        out.append(html.escape(text[position:]))
        return "".join(out)

    def code_block(self, lines: list[str]) -> str:
        text = "\n".join(lines)
        filled = _PLACEHOLDER.sub(lambda m: self.placeholder(m[1], in_code=True), html.escape(text))
        raw = html.unescape(filled)
        return (
            f'<div class="code-block"><pre><code>{filled}</code></pre>'
            f'<button type="button" class="copy" data-copy="{html.escape(raw, quote=True)}" '
            f'aria-label="Copy this text">Copy</button></div>'
        )

    def list_block(self, lines: list[str], ordered: bool) -> str:
        items: list[tuple[str, list[str]]] = []
        for line in lines:
            nested = _NESTED.match(line)
            if nested and items:
                items[-1][1].append(nested[1])
                continue
            head = _ORDERED.match(line) if ordered else re.match(r"^[-*]\s+(.*)$", line)
            if head:
                items.append((head[2] if ordered else head[1], []))
            elif items:  # a continuation line of the current item
                items[-1] = (f"{items[-1][0]} {line.strip()}", items[-1][1])
        tag = "ol" if ordered else "ul"
        first = _ORDERED.match(lines[0]) if ordered else None
        start = f' start="{int(first[1])}"' if first and int(first[1]) != 1 else ""
        rendered = []
        for text, children in items:
            sub = "".join(f"<li>{self.inline(child)}</li>" for child in children)
            rendered.append(f"<li>{self.inline(text)}{f'<ul>{sub}</ul>' if sub else ''}</li>")
        return f"<{tag}{start}>{''.join(rendered)}</{tag}>"

    def render(self, markdown: str) -> str:
        blocks: list[str] = []
        lines = markdown.splitlines()
        index = 0
        while index < len(lines):
            line = lines[index]
            if not line.strip():
                index += 1
            elif line.startswith("```"):
                end = index + 1
                while end < len(lines) and not lines[end].startswith("```"):
                    end += 1
                blocks.append(self.code_block(lines[index + 1 : end]))
                index = end + 1
            elif line.startswith("### ") or line.startswith("## "):
                level = 3 if line.startswith("### ") else 2
                blocks.append(f"<h{level}>{self.inline(line[level + 1 :].strip())}</h{level}>")
                index += 1
            else:
                end = index
                while end < len(lines) and lines[end].strip() and not lines[end].startswith(("```", "## ", "### ")):
                    end += 1
                blocks.append(self.paragraph_block(lines[index:end]))
                index = end
        return "\n".join(blocks)

    def paragraph_block(self, lines: list[str]) -> str:
        first = lines[0]
        if first.startswith(">"):
            inner = " ".join(line.lstrip(">").strip() for line in lines)
            return f'<div class="note" role="note">{self.inline(inner)}</div>'
        if _ORDERED.match(first):
            return self.list_block(lines, ordered=True)
        if re.match(r"^[-*]\s+", first):
            return self.list_block(lines, ordered=False)
        return f"<p>{self.inline(' '.join(line.strip() for line in lines))}</p>"


def render_markdown(markdown: str, values: dict[str, str], product: str) -> str:
    """HTML for a guide's Markdown, with the connection's `values` filled in (each with a copy button)."""
    return _Renderer(values, product).render(markdown)
