"""The whole study on any dataset, as one self-contained report.

    python -m cover_model report --data DATA --out reports/NAME [--quick]

Writes ``report.md`` (with ``figures/*.png`` and ``tables/*.csv``): the
dataset, the paper's colour analysis (Table 1 over trials), Table 2 (the
scikit-learn zoo), Tables 3 and 4 (networks from scratch and pretrained), our
best model, the paper's figures beside ours and what differs.

- :mod:`.config`: ``ReportConfig``, the ``--quick`` settings, the networks to run.
- :mod:`.runner`: resumable steps (``steps/<name>.json``, ``step_log.jsonl``).
- :mod:`.steps`, :mod:`.networks`, :mod:`.network_results`: the steps themselves.
- :mod:`.scoring`, :mod:`.compare`: bootstrap intervals, sources, the paper's columns.
- :mod:`.figures`, :mod:`.markdown`: PNGs and ``report.md``.
- :mod:`.isolate`: a network trained in its own process, so its memory goes back.
- :mod:`.reading`: finding reports and reading them back (the dashboard).
"""
import importlib

# Imported on first use: the dashboard reads reports (and worker processes start) without
# importing torch and the training stack.
_EXPORTS = {
    ".config": ("QUICK", "ReportConfig", "best_settings", "make_config", "network_plans"),
    ".reading": ("Block", "SHIPPED_STUDY", "find_reports", "publish_report", "report_blocks",
                 "report_roots"),
    ".runner": ("ReportError", "read_step_log"),
    ".study": ("ReportResult", "build_steps", "run_report"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __name__), name)
