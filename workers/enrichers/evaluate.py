"""`liveblog eval enrich`: score the enrichers against the project's gold set.

Matching rules (all per post, then summed over posts):

* **Entities** — a gold entity and a predicted one match when label and folded canonical
  name agree (``fold("Volodymyr Zelensky")``). Each post contributes the *set* of distinct
  (label, canonical) pairs on each side, so a name mentioned three times counts once and a
  wrong canonical spelling counts as both a false positive and a false negative. Per-label
  precision/recall/F1 and the micro average over all labels are reported.
* **Places** — accuracy: share of gold places for which a predicted place with the same
  folded name has the same country code.
* **Quotes** — quote recall: share of gold quotes found (a predicted quote whose folded text
  contains the gold text or is contained in it); speaker accuracy: share of gold quotes
  found *and* attributed to the gold speaker (folded; an unknown speaker must be None).
* **Quantities** — accuracy: share of gold quantities with a predicted quantity of the same
  kind whose value is within 0.5 % of the gold value.
* **Topics** — micro precision/recall/F1 over (post, topic) pairs.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from schemas.events import Enrichment
from workers.enrichers import enrich
from workers.enrichers.text import fold

DEFAULT_GOLD = Path(__file__).resolve().parents[2] / "samples" / "gold" / "enrich.jsonl"
LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT")


def load_gold(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def _entity_counts(gold: dict, got: Enrichment, counts: dict[str, Counter]) -> None:
    want = {(e["label"], fold(e["canonical"])) for e in gold["entities"]}
    have = {(e.label, fold(e.canonical)) for e in got.entities}
    for label, _ in want & have:
        counts[label]["tp"] += 1
    for label, _ in have - want:
        counts[label]["fp"] += 1
    for label, _ in want - have:
        counts[label]["fn"] += 1


def _places_correct(gold: dict, got: Enrichment) -> int:
    have = {fold(p.name): p.country_code for p in got.places}
    return sum(1 for p in gold["places"] if fold(p["name"]) in have and have[fold(p["name"])] == p["country_code"])


def _quote_scores(gold: dict, got: Enrichment) -> tuple[int, int]:
    found = correct = 0
    for q in gold["quotes"]:
        text = fold(q["text"]).strip(" ,.")
        match = next((p for p in got.quotes if text in fold(p.text) or fold(p.text).strip(" ,.") in text), None)
        if match is None:
            continue
        found += 1
        want = fold(q["speaker"]) if q["speaker"] else None
        correct += (fold(match.speaker) if match.speaker else None) == want
    return found, correct


def _quantities_correct(gold: dict, got: Enrichment) -> int:
    def close(a: float | None, b: float) -> bool:
        return a is not None and abs(a - b) <= 0.005 * max(abs(b), 1e-9)

    return sum(1 for q in gold["quantities"] if any(p.kind == q["kind"] and close(p.value, q["value"]) for p in got.quantities))


def evaluate(gold_path: Path) -> dict:
    posts = load_gold(gold_path)
    counts: dict[str, Counter] = {label: Counter() for label in LABELS}
    totals = Counter()
    for post in posts:
        got = enrich(post["title"], post["body"])
        _entity_counts(post, got, counts)
        totals["places"] += len(post["places"])
        totals["places_ok"] += _places_correct(post, got)
        found, correct = _quote_scores(post, got)
        totals["quotes"] += len(post["quotes"])
        totals["quotes_found"] += found
        totals["speakers_ok"] += correct
        totals["quantities"] += len(post["quantities"])
        totals["quantities_ok"] += _quantities_correct(post, got)
        want, have = set(post["topics"]), set(got.topics)
        totals["topic_tp"] += len(want & have)
        totals["topic_fp"] += len(have - want)
        totals["topic_fn"] += len(want - have)
        totals["lang_ok"] += got.language == post["lang"]
    micro = _prf(*(sum(c[k] for c in counts.values()) for k in ("tp", "fp", "fn")))

    def share(ok: str, total: str) -> float:
        return round(totals[ok] / totals[total], 4) if totals[total] else 0.0

    return {
        "posts": len(posts),
        "languages": dict(Counter(p["lang"] for p in posts)),
        "entities": {label: _prf(c["tp"], c["fp"], c["fn"]) for label, c in counts.items()},
        "entities_micro": micro,
        "place_accuracy": share("places_ok", "places"),
        "quote_recall": share("quotes_found", "quotes"),
        "quote_speaker_accuracy": share("speakers_ok", "quotes"),
        "quantity_accuracy": share("quantities_ok", "quantities"),
        "topics": _prf(totals["topic_tp"], totals["topic_fp"], totals["topic_fn"]),
        "language_accuracy": round(totals["lang_ok"] / len(posts), 4) if posts else 0.0,
        "counts": {k: totals[k] for k in ("places", "quotes", "quantities")},
    }


def format_report(result: dict) -> str:
    lines = [f"Enrichment evaluation: {result['posts']} posts {result['languages']}", "",
             f"{'label':<8} {'P':>6} {'R':>6} {'F1':>6} {'tp':>5} {'fp':>5} {'fn':>5}"]
    rows = [*result["entities"].items(), ("micro", result["entities_micro"])]
    for label, m in rows:
        lines.append(f"{label:<8} {m['precision']:>6.3f} {m['recall']:>6.3f} {m['f1']:>6.3f} {m['tp']:>5} {m['fp']:>5} {m['fn']:>5}")
    c = result["counts"]
    lines += ["",
              f"place accuracy          {result['place_accuracy']:.3f}  (n={c['places']})",
              f"quote recall            {result['quote_recall']:.3f}  (n={c['quotes']})",
              f"quote-speaker accuracy  {result['quote_speaker_accuracy']:.3f}  (n={c['quotes']})",
              f"quantity accuracy       {result['quantity_accuracy']:.3f}  (n={c['quantities']})",
              f"topic F1                {result['topics']['f1']:.3f}  (P {result['topics']['precision']:.3f}, R {result['topics']['recall']:.3f})",
              f"language accuracy       {result['language_accuracy']:.3f}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="liveblog eval enrich", description="Score the enrichers against a gold set.")
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD, help="gold JSONL (default: samples/gold/enrich.jsonl)")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    args = parser.parse_args(argv)
    if not args.gold.is_file():
        parser.error(f"gold set not found: {args.gold} (pass --gold PATH)")
    result = evaluate(args.gold)
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else format_report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
