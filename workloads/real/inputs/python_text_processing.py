"""A real Python workload for the recorder: parse, transform and re-emit Python sources from the
standard library (ast, tokenize, re, json, collections), the way linters and code tools do."""
import ast
import collections
import json
import os
import re
import tokenize

library = os.path.dirname(os.__file__)
modules = ["argparse.py", "difflib.py", "textwrap.py", "string.py", "configparser.py", "csv.py"]
words = collections.Counter()
summaries = []
for name in modules:
    path = os.path.join(library, name)
    with open(path, encoding="utf-8") as source_file:
        source = source_file.read()
    tree = ast.parse(source)
    functions = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    regenerated = ast.unparse(tree)
    with open(path, "rb") as raw:
        token_count = sum(1 for _ in tokenize.tokenize(raw.readline))
    words.update(re.findall(r"[A-Za-z_]+", regenerated))
    summaries.append({"module": name, "functions": sorted(functions), "tokens": token_count, "lines": regenerated.count("\n")})
report = json.dumps({"modules": summaries, "common_words": words.most_common(200)}, indent=1)
print(len(json.loads(report)["modules"]), "modules,", len(words), "distinct words")
