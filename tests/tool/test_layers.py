#!/usr/bin/python3
"""The include graph of src/ and include/ has floors and no circles (issue 13).

Each file belongs to a layer by its path; a file may include its own layer and the layers
below, never one above, and no chain of includes may come back to where it started:

    util  ->  net, smtp, conf  ->  session  ->  transcript  ->  practice  ->  ui  ->  main

net, smtp and conf stand on the same floor: one of them may include another, as long as the
three do not go round in a circle. A .c file and its own header (include/smtpsh/X.h or a
private X.h beside src/DIR/X.c) are one node of the graph; a header without a .c of its name
is a node of its own, in the layer HEADER_LAYERS gives it (the lowest layer that defines what
it holds).

Usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/tool/test_layers.py
       (TAP; reads the source tree this file is in)
"""

import os
import re
import sys
import unittest

sys.dont_write_bytecode = True
from smtpshtest import REPO, tap_main

# The floors, lowest first. A layer may include its own floor and those below it.
FLOORS = [
    ["util"],
    ["net", "smtp", "conf"],
    ["session"],
    ["transcript"],
    ["practice"],
    ["ui"],
    ["main"],
]
RANK = {layer: i for i, floor in enumerate(FLOORS) for layer in floor}

# Where a source file's layer comes from: its folder, or the file itself (longest prefix wins).
PATH_LAYERS = {
    "src/util/": "util",
    "src/net/": "net",
    "src/smtp/": "smtp",
    "src/conf/": "conf",
    "src/session.c": "session",
    "src/session_": "session",  # session_data.c, session_pipe.c, session_tls.c, session_int.h
    "src/transcript/": "transcript",
    "src/practice/": "practice",
    "src/ui/": "ui",
    "src/main.c": "main",
    "src/cli.c": "main",
}

# Headers of include/smtpsh/ without a src/*/X.c of their name: the layer that defines them.
HEADER_LAYERS = {
    "include/smtpsh/proto.h": "smtp",  # the phase and the TLS mode (session, conf, ui use it)
    "include/smtpsh/event.h": "smtp",  # the session's events: the client engine makes them
    "include/smtpsh/exit.h": "util",  # exit statuses: --serve's, the shell's, main's
    "include/smtpsh/transcript.h": "transcript",  # parse.c, reader.c and writer.c
    "include/smtpsh/practice_script.h": "practice",  # src/practice/script.c
    "include/smtpsh/practice_server.h": "practice",  # server.c, env.c, cert.c
    "include/smtpsh/practice_settings.h": "practice",  # src/practice/settings.c
}

# Generated in the build directory (meson's configure_file): plain #defines, no includes.
GENERATED = {"config.h"}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def source_files(root):
    """Every .c and .h under src/ and include/, as paths relative to root."""
    out = []
    for top in ("src", "include"):
        for dirpath, _dirs, files in os.walk(os.path.join(root, top)):
            for name in files:
                if name.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(out)


def read_includes(root, files):
    """{file: [quoted include names in order]}."""
    graph = {}
    for f in files:
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            graph[f] = INCLUDE_RE.findall(fh.read())
    return graph


class Tree:
    """The files of a tree, their layers, nodes and resolved includes."""

    def __init__(self, includes):
        self.includes = includes  # {file: [include names]}
        self.files = set(includes)
        self.problems = []  # files without a layer, includes that name no file
        self.c_by_base = {}
        for f in self.files:
            if f.endswith(".c"):
                base = os.path.basename(f)[:-2]
                if base in self.c_by_base:
                    self.problems.append("%s and %s: two .c files named %s.c, so "
                                         "include/smtpsh/%s.h has no single owner"
                                         % (self.c_by_base[base], f, base, base))
                self.c_by_base[base] = f
        self.layer = {f: self._layer(f) for f in self.files}
        self.node = {f: self._node(f) for f in self.files}
        self.edges = []  # (file, included file)
        for f in sorted(self.files):
            for name in includes[f]:
                target = self._resolve(f, name)
                if target:
                    self.edges.append((f, target))

    def _layer(self, f):
        if f.startswith("include/smtpsh/"):
            if f in HEADER_LAYERS:
                return HEADER_LAYERS[f]
            owner = self.c_by_base.get(os.path.basename(f)[:-2])
            if owner:
                return self._layer(owner)
            self.problems.append("%s: no src/*/%s.c; give it a layer in HEADER_LAYERS"
                                 % (f, os.path.basename(f)[:-2]))
            return None
        best = None
        for prefix, layer in PATH_LAYERS.items():
            if f.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, layer)
        if best is None:
            self.problems.append("%s: in no layer; add its folder to PATH_LAYERS" % f)
            return None
        return best[1]

    def _node(self, f):
        """A .c and its own header are one node, named after the .c."""
        if f.endswith(".c"):
            return f
        base = os.path.basename(f)[:-2]
        if f.startswith("include/smtpsh/"):
            owner = self.c_by_base.get(base)
        else:  # a private header beside its .c (src/DIR/X.h for src/DIR/X.c)
            owner = os.path.join(os.path.dirname(f), base + ".c")
            owner = owner if owner in self.files else None
        return owner or f

    def _resolve(self, f, name):
        """The file an #include "name" of f reads: beside f first, then include/."""
        for cand in (os.path.join(os.path.dirname(f), name), os.path.join("include", name)):
            cand = os.path.normpath(cand)
            if cand in self.files:
                return cand
        if name not in GENERATED:
            self.problems.append('%s: #include "%s" names no file of src/ or include/'
                                 % (f, name))
        return None

    def show(self, n):
        """A node as a reader finds it: the .c with its own header."""
        heads = sorted(f for f in self.files if self.node[f] == n and f != n)
        return n + ("" if not heads else " (+ %s)" % ", ".join(heads))

    def upward(self):
        """Each include that runs from a layer to a higher floor."""
        out = []
        for f, t in self.edges:
            a, b = self.layer[f], self.layer[t]
            if a is None or b is None:
                continue
            if RANK[b] > RANK[a]:
                out.append('%s (%s) includes %s (%s): an arrow up from %s to %s'
                           % (f, a, t, b, a, b))
        return out

    def file_cycles(self):
        """Each circle of includes between nodes, as a path that shows it."""
        graph = {}
        for f, t in self.edges:
            a, b = self.node[f], self.node[t]
            if a != b:
                graph.setdefault(a, set()).add(b)
        return [" -> ".join(self.show(n) for n in c + [c[0]]) for c in circles(graph)]

    def private_leaks(self):
        """Each include of a private header (src/DIR/X.h) by a file of another folder: what
        a folder keeps to itself (struct shell's fields in src/ui/shell_int.h) stays there."""
        return ["%s includes %s: a private header of %s/" % (f, t, os.path.dirname(t))
                for f, t in self.edges
                if t.startswith("src/") and t.endswith(".h")
                and os.path.dirname(f) != os.path.dirname(t)]

    def layer_cycles(self):
        """Each circle between layers (possible only between the layers of one floor)."""
        graph = {}
        for f, t in self.edges:
            a, b = self.layer[f], self.layer[t]
            if a and b and a != b:
                graph.setdefault(a, set()).add(b)
        out = []
        for c in circles(graph):
            # name one include behind each arrow, so the message says where to look
            steps = []
            for i, a in enumerate(c):
                b = c[(i + 1) % len(c)]
                why = next("%s includes %s" % (f, t) for f, t in sorted(self.edges)
                           if self.layer[f] == a and self.layer[t] == b)
                steps.append("%s -> %s (%s)" % (a, b, why))
            out.append("; ".join(steps))
        return out


def circles(graph):
    """The circles of the graph: its strongly connected components of more than one node
    (Tarjan), each shown as the shortest circle through each of its nodes."""
    index, low, stack, on, comps = {}, {}, [], set(), []

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(set(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    out = []
    for comp in comps:
        # for each node of the component, the shortest way back to it: every circle that a
        # fix has to break shows up (a rotation of one already found is not repeated)
        seen = set()
        for start in sorted(comp):
            path = shortest_circle(graph, comp, start)
            i = path.index(min(path))
            key = tuple(path[i:] + path[:i])
            if key not in seen:
                seen.add(key)
                out.append(list(key))
    return sorted(out)


def shortest_circle(graph, comp, start):
    """The nodes of a shortest path from start back to start, inside comp (breadth first)."""
    prev, todo = {start: None}, [start]
    while todo:
        nxt = []
        for v in todo:
            for w in sorted(graph.get(v, ())):
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return path[::-1]
                if w in comp and w not in prev:
                    prev[w] = v
                    nxt.append(w)
        todo = nxt
    raise AssertionError("%s: not on a circle" % start)


def listing(items):
    return "\n  " + "\n  ".join(items)


class Layers(unittest.TestCase):
    """The source tree of this checkout."""

    @classmethod
    def setUpClass(cls):
        files = source_files(REPO)
        cls.tree = Tree(read_includes(REPO, files))

    def test_every_file_has_a_layer(self):
        """every file of src/ and include/ is in a layer; every quoted include names a file"""
        self.assertGreater(len(self.tree.files), 50)
        stale = ["%s: in HEADER_LAYERS but not in the tree" % h for h in sorted(HEADER_LAYERS)
                 if h not in self.tree.files]
        problems = self.tree.problems + stale
        self.assertEqual(problems, [], listing(problems))

    def test_no_arrow_up(self):
        """no file includes a header of a higher floor"""
        up = self.tree.upward()
        self.assertEqual(up, [], listing(up))

    def test_no_circle_between_files(self):
        """no chain of includes comes back to its start (a .c and its header: one node)"""
        cycles = self.tree.file_cycles()
        self.assertEqual(cycles, [], listing(cycles))

    def test_private_headers_stay_in_their_folder(self):
        """a header beside the .c files of src/DIR/ is included by those files only"""
        leaks = self.tree.private_leaks()
        self.assertEqual(leaks, [], listing(leaks))

    def test_no_circle_between_layers(self):
        """net, smtp and conf share a floor, but do not include each other round a circle"""
        cycles = self.tree.layer_cycles()
        self.assertEqual(cycles, [], listing(cycles))


class Checker(unittest.TestCase):
    """The checks themselves, on made-up trees: each finds what it is for."""

    def test_finds_an_arrow_up(self):
        """a header of the session included by the profile parser is named"""
        tree = Tree({
            "src/conf/profile.c": ["smtpsh/profile.h"],
            "include/smtpsh/profile.h": ["smtpsh/session.h"],
            "src/session.c": ["smtpsh/session.h"],
            "include/smtpsh/session.h": [],
        })
        self.assertEqual(tree.problems, [])
        self.assertEqual(tree.upward(), [
            "include/smtpsh/profile.h (conf) includes include/smtpsh/session.h (session): "
            "an arrow up from conf to session"])
        self.assertEqual(tree.file_cycles(), [])

    def test_finds_a_circle_through_headers(self):
        """meta.h includes shell.h and shell.c includes meta.h: one circle, two nodes"""
        tree = Tree({
            "src/ui/meta.c": ["smtpsh/meta.h"],
            "include/smtpsh/meta.h": ["smtpsh/shell.h"],
            "src/ui/shell.c": ["smtpsh/shell.h", "smtpsh/meta.h"],
            "include/smtpsh/shell.h": [],
        })
        self.assertEqual(tree.upward(), [])
        self.assertEqual(tree.file_cycles(), [
            "src/ui/meta.c (+ include/smtpsh/meta.h) -> src/ui/shell.c (+ "
            "include/smtpsh/shell.h) -> src/ui/meta.c (+ include/smtpsh/meta.h)"])

    def test_private_header_is_its_own_node(self):
        """a private header of no .c's name is a node: including its user's header, a circle"""
        tree = Tree({
            "src/practice/smtpd.c": ["smtpd_int.h"],
            "src/practice/smtpd_auth.c": ["smtpd_int.h"],
            "src/practice/smtpd_int.h": ["smtpsh/smtpd.h"],
            "include/smtpsh/smtpd.h": [],
        })
        self.assertEqual(tree.problems, [])
        self.assertEqual(len(tree.file_cycles()), 1)
        self.assertIn("src/practice/smtpd_int.h", tree.file_cycles()[0])

    def test_finds_a_private_header_used_elsewhere(self):
        """main.c reading the shell's private header is named; the files of src/ui/ may"""
        tree = Tree({
            "src/main.c": ["ui/shell_int.h"],
            "src/ui/meta.c": ["shell_int.h"],
            "src/ui/shell.c": ["shell_int.h"],
            "src/ui/shell_int.h": [],
        })
        self.assertEqual(tree.problems, [])
        self.assertEqual(tree.private_leaks(), [
            "src/main.c includes src/ui/shell_int.h: a private header of src/ui/"])

    def test_finds_a_circle_between_layers_of_a_floor(self):
        """net -> conf and conf -> net by different files: no file circle, a layer circle"""
        tree = Tree({
            "src/net/a.c": ["smtpsh/paths.h"],
            "src/conf/paths.c": [],
            "include/smtpsh/paths.h": [],
            "src/conf/b.c": ["smtpsh/c.h"],
            "src/net/c.c": [],
            "include/smtpsh/c.h": [],
        })
        self.assertEqual(tree.upward(), [])
        self.assertEqual(tree.file_cycles(), [])
        self.assertEqual(len(tree.layer_cycles()), 1)
        self.assertIn("src/net/a.c includes include/smtpsh/paths.h",
                      tree.layer_cycles()[0])

    def test_unmapped_files_are_named(self):
        """a new folder, a header without owner, an include of nothing: each is a problem"""
        tree = Tree({
            "src/dns/x.c": ["smtpsh/nowhere.h", "config.h"],
            "include/smtpsh/orphan.h": [],
        })
        self.assertEqual(len(tree.problems), 3, listing(tree.problems))


if __name__ == "__main__":
    tap_main()
