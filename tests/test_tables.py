import math

import pytest
from scipy import stats

from drai.tables import (
    build_table,
    context_of,
    paper_results,
    summarize,
    table_specs,
    to_latex,
    to_markdown,
)


def record(dataset, variant, seed, source="synthetic", **metrics):
    return {
        "dataset": dataset,
        "variant": variant,
        "seed": seed,
        "data_source": source,
        "metrics": metrics,
        "config": {"preset": "demo"},
    }


@pytest.fixture
def golden():
    """A small golden set: two seeds of DRAI and DAI on LIDC, one of cInfoGAN."""
    return [
        record("lidc", "DRAI", 0, fid_logits=1.0, fid=100.0, **{"is": 1.2}, cgacc=0.5, cifc=0.4),
        record("lidc", "DRAI", 1, fid_logits=3.0, fid=300.0, **{"is": 1.4}, cgacc=0.7, cifc=0.6),
        record("lidc", "DAI", 0, fid_logits=2.0, fid=200.0, **{"is": 1.1}, cgacc=0.6, cifc=0.9),
        record("lidc", "DAI", 1, fid_logits=2.0, fid=200.0, **{"is": 1.3}, cgacc=0.6, cifc=1.1),
        record("lidc", "cInfoGAN", 0, fid_logits=5.0, fid=500.0, **{"is": 1.0}, cgacc=0.3, cifc=None),
        record("ham10000", "DRAI", 0, fid_logits=9.0, fid=900.0, **{"is": 1.5}, cgacc=0.9, cifc=0.2),
    ]


def test_paper_numbers_are_all_there():
    paper = paper_results()
    assert len(paper) == 36 + 8 + 18 + 24 + 24  # Tables I+II, III, IV, V, VI
    assert set(paper["method"]) >= {"cVAE", "D-cVAE", "DRAI", "Pixel Matched"}  # cAAVE renamed
    assert not paper["dataset"].isna().any()


def test_specs_follow_the_papers_order():
    specs = table_specs()
    assert specs[1].methods == ("cInfoGAN", "cVAE", "D-cInfoGAN", "D-cVAE", "DAI", "DRAI")
    assert specs[1].columns == (("lidc", "FID"), ("lidc", "IS"), ("lidc", "CGAcc"))
    assert specs[3].datasets == ("ham10000", "lidc")
    assert specs[4].methods[0] == "Pixel Matched" and specs[4].methods[-1] == "DRAI"
    assert specs[5].methods[:2] == ("DAI", "DRAI")
    # the budget control follows the paper's rows of both ablation tables, and only those
    for number in (5, 6):
        assert specs[number].methods[-1] == "DAI+twice" and len(specs[number].methods) == 7
    assert all("DAI+twice" not in specs[n].methods for n in (1, 2, 3, 4))


def test_extra_rows_are_marked_and_have_no_published_values(golden):
    golden = golden + [record("lidc", "DAI+twice", 0, fid_logits=1.5, fid=150.0, **{"is": 1.2}, cgacc=0.65, cifc=0.7)]
    table = build_table(table_specs()[5], golden)
    extra = table[table.method == "DAI+twice"]
    assert extra["paper_mean"].isna().all() and (extra["n"] == 1).all()
    markdown = to_markdown(table_specs()[5], table, context_of(golden, {}))
    assert "| DAI+twice (not in the paper) | 1.500 | — | — | 150.000 |" in markdown
    assert "| DAI | 2.000 ± 0.000 |" in markdown  # the paper's rows keep their names
    assert "not in the paper" in markdown.splitlines()[0]  # the caption says so


def test_captions_name_the_papers_inconsistencies(golden):
    captions = {
        n: to_markdown(spec, build_table(spec, golden), context_of(golden, {})).splitlines()[0]
        for n, spec in table_specs().items()
    }
    assert "2nd and 3rd columns hold CGAcc and IS" in captions[6]
    assert "0.630" in captions[2] and "0.618" in captions[2] and "0.618" in captions[6]
    assert "cAAVE" in captions[1] and "cAAVE" in captions[2]
    assert "CIFIC" in captions[3]
    # DRAI's LIDC CIFC: 0.456 ± 0.06 in Table III, ± 0.069 in Table V
    assert "0.069" in captions[3] and "0.06 " in captions[5] and "0.069" in captions[5]
    assert not any(word in captions[n] for n in (4, 5) for word in ("cAAVE", "CIFIC", "header"))
    assert "CIFC" not in captions[4]


def test_summary_is_mean_sample_std_and_t_interval():
    s = summarize([1.0, 3.0])
    assert s["mean"] == 2.0
    assert s["std"] == pytest.approx(math.sqrt(2))
    half = stats.t.ppf(0.975, 1) * math.sqrt(2) / math.sqrt(2)
    assert (s["ci95_low"], s["ci95_high"]) == pytest.approx((2.0 - half, 2.0 + half))
    one = summarize([4.0])
    assert one["n"] == 1 and one["mean"] == 4.0 and math.isnan(one["std"])


def test_table1_from_the_golden_set(golden):
    table = build_table(table_specs()[1], golden)
    assert list(dict.fromkeys(table["method"])) == ["cInfoGAN", "cVAE", "D-cInfoGAN", "D-cVAE", "DAI", "DRAI"]
    drai_fid = table[(table.method == "DRAI") & (table.metric == "FID")].iloc[0]
    assert (drai_fid["n"], drai_fid["mean"], drai_fid["std"]) == (2, 2.0, pytest.approx(math.sqrt(2)))
    assert drai_fid["paper_mean"] == 0.089 and drai_fid["paper_std"] == 0.02
    assert table[(table.method == "cVAE")]["n"].eq(0).all()  # not run: no number
    # The HAM10000 run does not leak into the LIDC table.
    assert table[(table.method == "DRAI") & (table.metric == "IS")].iloc[0]["mean"] == pytest.approx(1.3)

    markdown = to_markdown(table_specs()[1], table, context_of(golden, {}))
    lines = markdown.splitlines()
    assert lines[0].startswith("Table I:") and "embedded synthetic" in lines[0] and "preset demo" in lines[0]
    drai_line = next(line for line in lines if line.startswith("| DRAI "))
    assert "2.000 ± 1.414" in drai_line and "0.089 ± 0.02" in drai_line
    cvae_line = next(line for line in lines if line.startswith("| cVAE "))
    assert "| — |" in cvae_line and "0.181 ± 0.03" in cvae_line
    latex = to_latex(table_specs()[1], table, context_of(golden, {}))
    assert r"2.000 $\pm$ 1.414" in latex and r"\begin{tabular}" in latex


def test_fid_tables_show_the_logit_fid_beside_the_published_one_and_the_pooled_one_after(golden):
    for number in (1, 2, 5, 6):
        spec = table_specs()[number]
        markdown = to_markdown(spec, build_table(spec, golden), context_of(golden, {}))
        header = [cell.strip() for cell in markdown.splitlines()[2].strip("|").split("|")]
        fid = header.index(next(h for h in header if h.endswith("FID (↓) ours")))
        assert header[fid + 1 : fid + 4] == [
            "95% CI",
            header[fid].replace("ours", "paper"),
            header[fid].replace("FID (↓)", "FID, pooled features (not the paper's scale) (↓)"),
        ]
        assert "class logits" in markdown.splitlines()[0] and "not the paper's scale" in markdown.splitlines()[0]
    spec = table_specs()[1]
    drai = next(line for line in to_markdown(spec, build_table(spec, golden), {}).splitlines() if "| DRAI " in line)
    cells = [cell.strip() for cell in drai.strip("|").split("|")]
    assert cells[1:5] == ["2.000 ± 1.414", "[-10.706, 14.706]", "0.089 ± 0.02", "200.000 ± 141.421"]


def test_published_values_are_printed_as_published(golden):
    pixel = {
        "dataset": "lidc",
        "variant": "Pixel Matched",
        "data_source": "synthetic",
        "metrics": {"disagreement_divergence": 2.5, "label_overlap_pct": 30.0},
    }
    specs = table_specs()
    table4 = to_markdown(specs[4], build_table(specs[4], [pixel]), {})
    assert "| 2.42 |" in table4 and "| 35.27 |" in table4 and "35.270" not in table4
    assert "33.850 ± 1.19" in table4  # printed with three decimals in the paper, kept so
    table3 = to_markdown(specs[3], build_table(specs[3], golden), {})
    assert "0.456 ± 0.06 |" in table3 and "0.210 ± 0.01 |" in table3
    table1 = to_markdown(specs[1], build_table(specs[1], golden), {})
    assert "0.740 ± 0.02" in table1
    table5 = to_markdown(specs[5], build_table(specs[5], golden), {})
    assert "0.456 ± 0.069" in table5 and "1.423 ± 0.052" in table5


def test_cifc_table_has_both_datasets_and_skips_one_code_models(golden):
    table = build_table(table_specs()[3], golden)
    drai = table[table.method == "DRAI"].set_index("dataset")
    assert drai.loc["ham10000", "mean"] == 0.2 and drai.loc["lidc", "mean"] == pytest.approx(0.5)
    assert "cInfoGAN" not in set(table.method)


def test_retrieval_table_takes_the_pixel_matched_row():
    records = [
        {
            "dataset": "lidc",
            "variant": "Pixel Matched",
            "data_source": "nbia",
            "metrics": {"disagreement_divergence": 2.5, "label_overlap_pct": 30.0},
        }
    ]
    table = build_table(table_specs()[4], records)
    pixel = table[(table.method == "Pixel Matched") & (table.metric == "label_overlap_pct")].iloc[0]
    assert pixel["mean"] == 30.0 and pixel["paper_mean"] == 35.27
    assert "real data (nbia)" in to_markdown(table_specs()[4], table, context_of(records, {}))


def test_caption_reports_the_evaluator(golden):
    evaluators = {"lidc": {"labels": "size", "initialization": "random", "test_accuracy": 0.61, "chance_accuracy": 0.4}}
    table = build_table(table_specs()[1], golden)
    assert "test accuracy 0.610" in to_markdown(table_specs()[1], table, context_of(golden, evaluators))
