"""Enough YAML to read Kubernetes manifests, in the standard library.

The bed reads the project's CRDs from manifests/ at start-up (kubectl does
the YAML for everything the tests apply). Python's standard library has no
YAML, so this is a small recursive-descent reader of the subset manifests
use: multiple documents (`---`), block mappings and sequences (including a
sequence at its parent key's indentation), plain / single- / double-quoted
scalars, block scalars (`|`, `>`, with `-`/`+` chomping and an explicit
indentation digit), flow collections (`[a, b]`, `{k: v}`, across lines),
comments, and YAML 1.2 core types (null, booleans, ints, floats). Anchors,
aliases and complex keys are refused with an error naming the line.
"""
import json
import re


class YAMLError(ValueError):
    pass


_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def _scalar(text):
    t = text.strip()
    if t in ("", "~", "null", "Null", "NULL"):
        return None
    if t in ("true", "True", "TRUE"):
        return True
    if t in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(t):
        return int(t, 0) if t[:2] in ("0o", "0x") else int(t)
    if _FLOAT.fullmatch(t) and any(c.isdigit() for c in t):
        return float(t)
    if t in (".inf", ".Inf", "+.inf"):
        return float("inf")
    if t in ("-.inf", "-.Inf"):
        return float("-inf")
    if t in (".nan", ".NaN"):
        return float("nan")
    return t


def _strip_comment(s):
    """Drop a trailing comment outside quotes."""
    q = None
    for i, ch in enumerate(s):
        if q:
            if ch == q:
                q = None
            elif ch == "\\" and q == '"':
                continue
        elif ch in "'\"" and (i == 0 or s[i - 1] in " \t[{,:-"):
            q = ch
        elif ch == "#" and (i == 0 or s[i - 1] in " \t"):
            return s[:i].rstrip()
    return s.rstrip()


def _unquote(t, line):
    if t.startswith('"'):
        try:
            return json.loads(t)
        except ValueError:
            raise YAMLError("line %d: bad double-quoted string %s" % (line, t)) from None
    if t.startswith("'"):
        if not t.endswith("'") or len(t) < 2:
            raise YAMLError("line %d: unterminated single-quoted string" % line)
        return t[1:-1].replace("''", "'")
    return _scalar(t)


class _Flow:
    def __init__(self, text, line):
        self.s, self.i, self.line = text, 0, line

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\n\r":
            self.i += 1

    def value(self):
        self.ws()
        c = self.s[self.i:self.i + 1]
        if c == "[":
            self.i += 1
            out = []
            self.ws()
            if self.s[self.i:self.i + 1] == "]":
                self.i += 1
                return out
            while True:
                out.append(self.value())
                self.ws()
                c = self.s[self.i:self.i + 1]
                self.i += 1
                if c == "]":
                    return out
                if c != ",":
                    raise YAMLError("line %d: expected , or ] in flow sequence" % self.line)
                self.ws()
                if self.s[self.i:self.i + 1] == "]":
                    self.i += 1
                    return out
        if c == "{":
            self.i += 1
            out = {}
            self.ws()
            if self.s[self.i:self.i + 1] == "}":
                self.i += 1
                return out
            while True:
                k = self.value()
                self.ws()
                if self.s[self.i:self.i + 1] != ":":
                    raise YAMLError("line %d: expected : in flow mapping" % self.line)
                self.i += 1
                out[k] = self.value()
                self.ws()
                c = self.s[self.i:self.i + 1]
                self.i += 1
                if c == "}":
                    return out
                if c != ",":
                    raise YAMLError("line %d: expected , or } in flow mapping" % self.line)
                self.ws()
                if self.s[self.i:self.i + 1] == "}":
                    self.i += 1
                    return out
        if c in ("'", '"'):
            j = self.i + 1
            while j < len(self.s):
                if self.s[j] == "\\" and c == '"':
                    j += 2
                    continue
                if self.s[j] == c:
                    if c == "'" and self.s[j + 1:j + 2] == "'":
                        j += 2
                        continue
                    break
                j += 1
            tok = self.s[self.i:j + 1]
            self.i = j + 1
            return _unquote(tok, self.line)
        j = self.i
        while j < len(self.s) and self.s[j] not in ",]}" and not (self.s[j] == ":" and self.s[j + 1:j + 2] in (" ", "")):
            j += 1
        tok = self.s[self.i:j]
        self.i = j
        return _scalar(tok)


class _Reader:
    def __init__(self, lines):
        self.lines = lines
        self.i = 0

    @staticmethod
    def indent(line):
        return len(line) - len(line.lstrip(" "))

    def skip(self):
        while self.i < len(self.lines):
            s = self.lines[self.i].strip()
            if s == "" or s.startswith("#"):
                self.i += 1
                continue
            if "\t" in self.lines[self.i][:self.indent(self.lines[self.i]) + 1] and self.lines[self.i].lstrip(" ").startswith("\t"):
                raise YAMLError("line %d: tabs are not allowed for indentation" % (self.i + 1))
            return True
        return False

    def node(self, min_indent):
        if not self.skip():
            return None
        line = self.lines[self.i]
        ind = self.indent(line)
        if ind < min_indent:
            return None
        body = _strip_comment(line[ind:])
        if body == "-" or body.startswith("- "):
            return self.seq(ind)
        if self._key(body) is not None:
            return self.map(ind)
        return self.scalar_lines(ind)

    def _key(self, body):
        if body[:1] in ("'", '"'):
            q = body[0]
            j = 1
            while j < len(body):
                if body[j] == "\\" and q == '"':
                    j += 2
                    continue
                if body[j] == q:
                    break
                j += 1
            rest = body[j + 1:]
            if rest.startswith(":") and (len(rest) == 1 or rest[1] == " "):
                return _unquote(body[:j + 1], self.i + 1), rest[1:].strip()
            return None
        if body[:1] in ("[", "{", "&", "*", "!", "|", ">", "?"):
            if body[:1] in ("&", "*", "?"):
                raise YAMLError("line %d: anchors, aliases and complex keys are not supported" % (self.i + 1))
            return None
        m = re.match(r"([^#]*?):( |$)", body)
        if not m:
            return None
        return m.group(1).strip(), body[m.end():].strip()

    def seq(self, ind):
        out = []
        while self.skip():
            line = self.lines[self.i]
            if self.indent(line) != ind:
                break
            body = _strip_comment(line[ind:])
            if not (body == "-" or body.startswith("- ")):
                break
            rest = body[1:].lstrip(" ")
            if not rest:
                self.i += 1
                out.append(self.node(ind + 1))
                continue
            col = ind + 1 + (len(body) - 1 - len(body[1:].lstrip(" ")))
            self.lines[self.i] = " " * col + line[col:]
            out.append(self.node(col))
        return out

    def map(self, ind):
        out = {}
        while self.skip():
            line = self.lines[self.i]
            if self.indent(line) != ind:
                if self.indent(line) > ind:
                    raise YAMLError("line %d: bad indentation of a mapping entry" % (self.i + 1))
                break
            body = _strip_comment(line[ind:])
            kv = self._key(body)
            if kv is None:
                break
            key, rest = kv
            if isinstance(key, str) and key.startswith("<<"):
                raise YAMLError("line %d: merge keys are not supported" % (self.i + 1))
            self.i += 1
            out[key] = self.value(rest, ind)
        return out

    def value(self, rest, ind):
        if rest.startswith("!"):
            parts = rest.split(None, 1)
            rest = parts[1] if len(parts) > 1 else ""
        if rest == "":
            if not self.skip():
                return None
            nxt = self.lines[self.i]
            nind = self.indent(nxt)
            nbody = nxt[nind:]
            if nind > ind:
                return self.node(nind)
            if nind == ind and (nbody == "-" or nbody.startswith("- ")):
                return self.seq(ind)
            return None
        if rest[0] in "|>":
            return self.block_scalar(rest, ind)
        if rest[0] in "[{":
            text = rest
            start = self.i
            while True:
                try:
                    f = _Flow(text, start)
                    v = f.value()
                    f.ws()
                    if f.i != len(f.s):
                        raise YAMLError("line %d: text after a flow collection" % start)
                    return v
                except (YAMLError, IndexError):
                    if self.i >= len(self.lines) or self.i - start > 1000:
                        raise YAMLError("line %d: unterminated flow collection" % start) from None
                    text += "\n" + _strip_comment(self.lines[self.i])
                    self.i += 1
        if rest[0] in "&*":
            raise YAMLError("line %d: anchors and aliases are not supported" % self.i)
        if rest[0] in "'\"":
            text = rest
            while True:
                try:
                    if rest[0] == '"':
                        return json.loads(text.replace("\n", " ") if text.count('"') >= 2 else "x")
                    if text.endswith("'") and len(text) > 1:
                        return " ".join(p.strip() for p in text[1:-1].split("\n")).replace("''", "'")
                    raise ValueError
                except ValueError:
                    if self.i >= len(self.lines):
                        raise YAMLError("line %d: unterminated quoted string" % self.i) from None
                    text += "\n" + self.lines[self.i].strip()
                    self.i += 1
        # plain scalar, possibly continued on more-indented lines
        parts = [rest]
        while self.i < len(self.lines):
            nxt = self.lines[self.i]
            if nxt.strip() == "" or self.indent(nxt) <= ind or nxt.strip().startswith("#"):
                break
            parts.append(_strip_comment(nxt.strip()))
            self.i += 1
        return _scalar(" ".join(parts)) if len(parts) > 1 else _scalar(rest)

    def block_scalar(self, header, ind):
        m = re.fullmatch(r"([|>])([-+]?)([1-9]?)([-+]?)", header.split("#")[0].strip())
        if not m:
            raise YAMLError("line %d: bad block scalar header %r" % (self.i, header))
        style, chomp, digit = m.group(1), m.group(2) or m.group(4), m.group(3)
        raw = []
        block_ind = ind + int(digit) if digit else None
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() == "":
                raw.append("")
                self.i += 1
                continue
            li = self.indent(line)
            if block_ind is None:
                if li <= ind:
                    break
                block_ind = li
            if li < block_ind:
                break
            raw.append(line[block_ind:])
            self.i += 1
        trailing = 0
        while raw and raw[-1] == "":
            raw.pop()
            trailing += 1
        if style == "|":
            text = "\n".join(raw)
        else:
            text, prev_more = "", False
            for j, ln in enumerate(raw):
                more = ln.startswith(" ") or ln == ""
                if j == 0:
                    text = ln
                elif ln == "":
                    text += "\n"
                elif more or prev_more or text.endswith("\n"):
                    text += ("\n" if not text.endswith("\n") else "") + ln
                else:
                    text += " " + ln
                prev_more = ln.startswith(" ")
        if not raw:
            return ""
        if chomp == "-":
            return text
        if chomp == "+":
            return text + "\n" * (trailing + 1)
        return text + "\n"

    def scalar_lines(self, ind):
        line = self.lines[self.i]
        body = _strip_comment(line[ind:])
        self.i += 1
        return self.value(body, ind - 1) if body[:1] in "[{'\"|>" else _scalar(body)


def load_all(text):
    """All documents in a YAML stream (empty documents skipped)."""
    docs, cur = [], []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("---") and (len(line) == 3 or line[3] in " \t#"):
            docs.append(cur)
            cur = [line[3:].strip()] if line[3:].strip() and not line[3:].strip().startswith("#") else []
            continue
        if line.rstrip() == "...":
            docs.append(cur)
            cur = []
            continue
        if line.startswith("%") and not cur:
            continue
        cur.append(line.rstrip("\n"))
    docs.append(cur)
    out = []
    for lines in docs:
        r = _Reader(lines)
        if not r.skip():
            continue
        v = r.node(0)
        if r.skip():
            raise YAMLError("line %d: unexpected content %r" % (r.i + 1, r.lines[r.i].strip()[:40]))
        if v is not None:
            out.append(v)
    return out


def load_file(path):
    with open(path) as f:
        return load_all(f.read())
