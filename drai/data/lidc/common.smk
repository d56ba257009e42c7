# LIDC-IDRI's workflow names and functions, for its rules.smk (which includes this file): the cases, known
# once the checkpoint lidc_nodules has written the nodule table, and what the `download` target and the
# `lidc` target take of them.

from drai.data.lidc import settings as lidc_settings

LIDC = SETTINGS["lidc"]


wildcard_constraints:
    case=r"LIDC-IDRI-\d{4}(_\d)?",


# A plan made before the nodule table exists cannot count the per-case LIDC jobs: say so where it is read.
if "lidc" in TRAIN["datasets"] and not os.path.exists(out("data/lidc/nodules.csv")):
    logger.info(
        f"Note: {out('data/lidc/nodules.csv')} does not exist yet; the per-case LIDC jobs (lidc_series and "
        "lidc_case_patches, two per case) are planned once the checkpoint lidc_nodules has written it, so job "
        "counts shown before then leave them out (the paper preset: 557 cases, 1114 jobs more)."
    )


def lidc_cases(wildcards=None):
    """Cases to process, known once the nodules table exists (checkpoint)."""
    from drai.data.lidc.labels import select_cases

    table = checkpoints.lidc_nodules.get().output.table
    return select_cases(pd.read_csv(table), LIDC["source"], LIDC["synthetic_cases"])


def lidc_series_manifests(wildcards=None):
    """Every case's series manifest: the `download` target's LIDC part, and what its factors are read from."""
    return expand(out("data/lidc/series/{case}.json"), case=lidc_cases())


def lidc_case_patch_files(wildcards):
    return expand(out("data/lidc/cases/{case}.npz"), case=lidc_cases())


if "lidc" in TRAIN["datasets"]:
    DOWNLOADS.append(lidc_series_manifests)
DATA_TARGETS["lidc"] = [out("data/lidc/patches.npz"), out("data/lidc/qc_patches.png")]
