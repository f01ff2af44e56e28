"""Nothing downloads at run time: every table and the language model come from files the
project or its installed packages ship, and a process with no network enriches as usual."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.conftest import ROOT

# Run in a fresh interpreter, so every table is built (and the model loaded) under the block.
PROBE = r"""
import json, socket

def refuse(*args, **kwargs):
    raise OSError("network use at run time: " + repr(args))

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

from workers import enrichers
enrichers.warm_up()
e = enrichers.enrich("Zelensky meets Nato chiefs in Kyiv",
                     '"We will not give up," Volodymyr Zelensky told reporters, as 8,500 troops stood ready.')
print(json.dumps({"language": e.language, "entities": sorted({x.id for x in e.entities}),
                  "countries": sorted({p.country_code for p in e.places}), "speaker": e.quotes[0].speaker}))
"""


def test_enrichment_runs_with_every_connection_refused():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["language"] == "en"
    assert "person:volodymyr-zelensky" in found["entities"] and "org:nato" in found["entities"]
    assert "UA" in found["countries"]
    assert found["speaker"] == "Volodymyr Zelensky"


def test_the_language_model_is_a_file_of_an_installed_package():
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    model = (Path(MODEL_DIR) / MODEL_FILE).resolve()  # how py3langid resolves its relative name
    assert model.is_file() and model.stat().st_size > 1_000_000
    installed = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    assert any(root in model.parents for root in installed), model


def test_the_gazetteers_are_files_of_the_project():
    data = ROOT / "workers" / "enrichers" / "data"
    assert sorted(p.name for p in data.iterdir() if p.is_file()), "no curated data files"
