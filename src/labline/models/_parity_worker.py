"""Entry point of the parity replay subprocess: ``python -I -m labline.models._parity_worker``.

Arguments: package folder, package digest, tolerance, and the calibration's deferral record
as JSON (``null`` without one). Prints one JSON report on stdout.
"""

from __future__ import annotations

import json
import sys
import warnings


def main(argv: list[str]) -> int:
    """Replay the package's parity record and print the report as JSON."""
    folder, digest, tolerance = argv[0], argv[1], float(argv[2])
    deferral = json.loads(argv[3]) if len(argv) > 3 else None
    from ._parity import ParityReport, check_parity

    try:
        from ._adapters import skip_skops_estimator_scan
        from ._loaded import load_package

        # this interpreter loads one package and nothing else: skops' default allow-list of
        # every scikit-learn estimator (3-5 s to build) is not needed, the manifest lists them
        skip_skops_estimator_scan()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # version differences are reported at load, not here
            model = load_package(folder, expected_digest=digest)
        report = check_parity(model, tolerance, deferral)
    except Exception as e:  # report anything the package's code raises instead of crashing
        report = ParityReport(
            False, 0, 0, (), float("inf"), tolerance, error=f"{type(e).__name__}: {e}"
        )
    print(json.dumps(report.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
