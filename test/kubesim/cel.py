"""A small CEL interpreter for CRD `x-kubernetes-validations` rules.

Supported subset (what CRD rules for immutability, bounds and simple
cross-field checks use):
  literals     int, double, string ('..' / ".."), true, false, null, [lists], {maps}
  names        self, oldSelf; field access a.b; index a[i], a['k']
  operators    ! - * / % + - < <= > >= == != in && || ?:
  macros       has(a.b), list.all(x, p), list.exists(x, p), list.exists_one(x, p),
               list.map(x, e), list.filter(x, p)
  functions    size(x) / x.size(), x.startsWith(s), x.endsWith(s), x.contains(s),
               x.matches(re), int(x), uint(x), double(x), string(x), bool(x),
               x.lowerAscii(), x.upperAscii(), type(x)
Not supported: quantity/url/ip libraries, optionals, timestamps and durations;
a rule using them fails to compile and the CRD is refused (as an
unsupported rule would be if it did not compile in kube-apiserver).

Semantics follow CEL where it matters for rules: `&&`/`||` absorb errors
when the other side decides (false && error == false), missing fields are
errors ("no such key"), ints and doubles compare numerically, `==` between
different types is false.
"""
import re


class CELError(Exception):
    """Compile or evaluation error; the message is what kube-apiserver would show."""


_TOK = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>\d+\.\d+([eE][+-]?\d+)?|\d+[eE][+-]?\d+|0x[0-9a-fA-F]+u?|\d+u?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!?:.,()\[\]{}])
""", re.X)


def _tokenize(src):
    out, pos = [], 0
    while pos < len(src):
        m = _TOK.match(src, pos)
        if not m:
            raise CELError("Syntax error: token recognition error at: '%s'" % src[pos])
        pos = m.end()
        if m.lastgroup == "ws":
            continue
        if m.lastgroup == "id" and m.group() in ("true", "false", "null", "in"):
            out.append(("kw", m.group()))
        else:
            out.append((m.lastgroup, m.group()))
    out.append(("eof", ""))
    return out


def _unescape(s):
    body = s[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, src):
        self.t = _tokenize(src)
        self.i = 0

    def peek(self):
        return self.t[self.i]

    def next(self):
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expect(self, v):
        tok = self.next()
        if tok[1] != v:
            raise CELError("Syntax error: expected %r, found %r" % (v, tok[1] or "end of rule"))

    def parse(self):
        e = self.ternary()
        if self.peek()[0] != "eof":
            raise CELError("Syntax error: unexpected %r" % self.peek()[1])
        return e

    def ternary(self):
        c = self.binary(0)
        if self.peek()[1] == "?":
            self.next()
            a = self.ternary()
            self.expect(":")
            b = self.ternary()
            return ("?:", c, a, b)
        return c

    PREC = [("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"), ("+", "-"), ("*", "/", "%")]

    def binary(self, level):
        if level == len(self.PREC):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek()[1] in self.PREC[level] and self.peek()[0] in ("op", "kw"):
            op = self.next()[1]
            right = self.binary(level + 1)
            left = (op, left, right)
        return left

    def unary(self):
        if self.peek()[1] == "!":
            self.next()
            return ("!", self.unary())
        if self.peek()[1] == "-":
            self.next()
            return ("neg", self.unary())
        return self.postfix(self.primary())

    def args(self):
        out = []
        if self.peek()[1] != ")":
            out.append(self.ternary())
            while self.peek()[1] == ",":
                self.next()
                out.append(self.ternary())
        self.expect(")")
        return out

    def postfix(self, e):
        while True:
            p = self.peek()[1]
            if p == ".":
                self.next()
                name = self.next()
                if name[0] != "id":
                    raise CELError("Syntax error: expected a field name after '.'")
                if self.peek()[1] == "(":
                    self.next()
                    e = ("call", name[1], e, self.args())
                else:
                    e = ("field", e, name[1])
            elif p == "[":
                self.next()
                idx = self.ternary()
                self.expect("]")
                e = ("index", e, idx)
            else:
                return e

    def primary(self):
        kind, v = self.next()
        if kind == "num":
            if v.endswith("u"):
                return ("lit", int(v[:-1], 0))
            if v.startswith("0x"):
                return ("lit", int(v, 16))
            return ("lit", float(v) if any(c in v for c in ".eE") else int(v))
        if kind == "str":
            return ("lit", _unescape(v))
        if kind == "kw":
            return ("lit", {"true": True, "false": False, "null": None}[v])
        if kind == "id":
            if self.peek()[1] == "(":
                self.next()
                args = self.args()
                if v == "has":
                    if len(args) != 1 or args[0][0] != "field":
                        raise CELError("invalid argument to has() macro")
                    return ("has", args[0][1], args[0][2])
                return ("call", v, None, args)
            return ("ident", v)
        if v == "(":
            e = self.ternary()
            self.expect(")")
            return e
        if v == "[":
            items = []
            if self.peek()[1] != "]":
                items.append(self.ternary())
                while self.peek()[1] == ",":
                    self.next()
                    items.append(self.ternary())
            self.expect("]")
            return ("list", items)
        if v == "{":
            pairs = []
            if self.peek()[1] != "}":
                while True:
                    k = self.ternary()
                    self.expect(":")
                    pairs.append((k, self.ternary()))
                    if self.peek()[1] != ",":
                        break
                    self.next()
            self.expect("}")
            return ("map", pairs)
        raise CELError("Syntax error: unexpected %r" % (v or "end of rule"))


class Program:
    def __init__(self, rule):
        self.rule = rule
        self.ast = _Parser(rule).parse()
        self.uses_old_self = "oldSelf" in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", rule)

    def eval(self, env):
        return _eval(self.ast, env)


def compile_rule(rule):
    return Program(rule)


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _eq(a, b):
    if _num(a) and _num(b):
        return a == b
    if type(a) is not type(b) and not (a is None or b is None):
        return False
    return a == b


def _type_name(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "map"
    return "null_type"


MACROS = ("all", "exists", "exists_one", "map", "filter")


def _eval(n, env):
    op = n[0]
    if op == "lit":
        return n[1]
    if op == "ident":
        if n[1] not in env:
            raise CELError("undeclared reference to '%s'" % n[1])
        return env[n[1]]
    if op == "field":
        base = _eval(n[1], env)
        if not isinstance(base, dict):
            raise CELError("no such key: %s" % n[2])
        if n[2] not in base:
            raise CELError("no such key: %s" % n[2])
        return base[n[2]]
    if op == "has":
        base = _eval(n[1], env)
        return isinstance(base, dict) and n[2] in base
    if op == "index":
        base, idx = _eval(n[1], env), _eval(n[2], env)
        if isinstance(base, list):
            if not isinstance(idx, int) or not 0 <= idx < len(base):
                raise CELError("index out of bounds: %s" % idx)
            return base[idx]
        if isinstance(base, dict):
            if idx not in base:
                raise CELError("no such key: %s" % idx)
            return base[idx]
        raise CELError("no such overload: index on %s" % _type_name(base))
    if op == "list":
        return [_eval(x, env) for x in n[1]]
    if op == "map":
        return {_eval(k, env): _eval(v, env) for k, v in n[1]}
    if op == "!":
        v = _eval(n[1], env)
        if not isinstance(v, bool):
            raise CELError("no such overload: !%s" % _type_name(v))
        return not v
    if op == "neg":
        v = _eval(n[1], env)
        if not _num(v):
            raise CELError("no such overload: -%s" % _type_name(v))
        return -v
    if op == "?:":
        c = _eval(n[1], env)
        if not isinstance(c, bool):
            raise CELError("no such overload: ternary on %s" % _type_name(c))
        return _eval(n[2] if c else n[3], env)
    if op in ("&&", "||"):
        short = op == "||"
        errs = []
        for side in (n[1], n[2]):
            try:
                v = _eval(side, env)
                if not isinstance(v, bool):
                    raise CELError("no such overload: %s on %s" % (op, _type_name(v)))
                if v is short:
                    return short
            except CELError as e:
                errs.append(e)
        if errs:
            raise errs[0]
        return not short
    if op == "call":
        return _call(n, env)
    a, b = _eval(n[1], env), _eval(n[2], env)
    if op == "==":
        return _eq(a, b)
    if op == "!=":
        return not _eq(a, b)
    if op == "in":
        if isinstance(b, list):
            return any(_eq(a, x) for x in b)
        if isinstance(b, dict):
            return a in b
        raise CELError("no such overload: in %s" % _type_name(b))
    if op in ("<", "<=", ">", ">="):
        if not ((_num(a) and _num(b)) or (type(a) is type(b) and isinstance(a, (str, bool)))):
            raise CELError("no such overload: %s %s %s" % (_type_name(a), op, _type_name(b)))
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    if op == "+":
        if (_num(a) and _num(b)) or (type(a) is type(b) and isinstance(a, (str, list))):
            return a + b
        raise CELError("no such overload: %s + %s" % (_type_name(a), _type_name(b)))
    if op in ("-", "*", "/", "%"):
        if not (_num(a) and _num(b)):
            raise CELError("no such overload: %s %s %s" % (_type_name(a), op, _type_name(b)))
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            raise CELError("division by zero" if op == "/" else "modulus by zero")
        if op == "/":
            return int(a / b) if isinstance(a, int) and isinstance(b, int) else a / b
        return a % b if (a >= 0) == (b >= 0) or isinstance(a, float) else -(abs(a) % abs(b))
    raise CELError("unsupported operator %s" % op)


def _call(n, env):
    _, name, target, args = n
    if target is not None and name in MACROS:
        coll = _eval(target, env)
        if len(args) != 2 or args[0][0] != "ident":
            raise CELError("invalid arguments to %s macro" % name)
        var, body = args[0][1], args[1]
        items = list(coll.keys()) if isinstance(coll, dict) else coll
        if not isinstance(items, list):
            raise CELError("no such overload: %s on %s" % (name, _type_name(coll)))
        results = []
        for it in items:
            sub = dict(env)
            sub[var] = it
            results.append((it, _eval(body, sub)))
        if name == "all":
            return all(r is True for _, r in results)
        if name == "exists":
            return any(r is True for _, r in results)
        if name == "exists_one":
            return sum(1 for _, r in results if r is True) == 1
        if name == "map":
            return [r for _, r in results]
        return [it for it, r in results if r is True]
    vals = [_eval(a, env) for a in args]
    recv = _eval(target, env) if target is not None else None
    if target is not None:
        vals = [recv] + vals
    if name == "size" and len(vals) == 1:
        if isinstance(vals[0], (str, list, dict)):
            return len(vals[0])
        raise CELError("no such overload: size(%s)" % _type_name(vals[0]))
    if name in ("startsWith", "endsWith", "contains", "matches") and len(vals) == 2:
        s, x = vals
        if not isinstance(s, str) or not isinstance(x, str):
            raise CELError("no such overload: %s" % name)
        if name == "startsWith":
            return s.startswith(x)
        if name == "endsWith":
            return s.endswith(x)
        if name == "contains":
            return x in s
        try:
            return re.search(x, s) is not None
        except re.error as e:
            raise CELError("invalid regular expression %r: %s" % (x, e)) from None
    if name in ("lowerAscii", "upperAscii") and len(vals) == 1 and isinstance(vals[0], str):
        return vals[0].lower() if name == "lowerAscii" else vals[0].upper()
    if name in ("int", "uint") and len(vals) == 1:
        try:
            return int(vals[0])
        except (TypeError, ValueError):
            raise CELError("cannot convert %r to int" % (vals[0],)) from None
    if name == "double" and len(vals) == 1:
        try:
            return float(vals[0])
        except (TypeError, ValueError):
            raise CELError("cannot convert %r to double" % (vals[0],)) from None
    if name == "string" and len(vals) == 1:
        v = vals[0]
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    if name == "bool" and len(vals) == 1 and vals[0] in ("true", "false", True, False):
        return vals[0] in ("true", True)
    if name == "type" and len(vals) == 1:
        return _type_name(vals[0])
    raise CELError("undeclared reference to '%s' (in container '')" % name)
