"""The ten models of the paper as data: which components each one switches on.

Components (and the paper's equation, "eq. N"):

* ``d_x``: D_x, real images against generated ones (eq. 1)
* ``d_xt``: matching-aware D_{x,t}: (x, t) against mismatched (x, t') and generated (G(z, c), t) (eq. 1)
* ``dali_z`` / ``dali_c``: dual adversarial inference, D_{x,z} on (x, z^) against
  (G(z, c), z), and D_{x,c} likewise for content (eq. 7)
* ``image_cycle``: adversarial image cycle, D_cycle on (x, x) against (x, x^) with
  x^ = G(z^, c^) (eq. 8)
* ``code_cycle``: latent code cycle (featureCycle), l1 between the codes
  inferred from G(z, c) and z, c (eq. 9); the InfoGAN term of the cInfoGAN
  baselines (eq. 17) is this term with an l1 likelihood
* ``mi_reg``: content-style information minimization (MIReg) through gradient
  reversal, F_z predicting z^ from c^ and F_c predicting c^ from z^ (eq. 11)
* ``self_reg``: self-supervised regularization (selfReg), content codes of x
  and T(x) pulled together, style codes pushed apart (eq. 15)
* ``kl``: KL(q || N(0, I)) with lambda = 1 for every Gaussian posterior used (eq. 16)
* ``train_twice``: each batch is trained twice, on x and on T(x) (the selfReg
  transforms), without the selfReg term; selfReg implies it (Section III-G).
  Alone it is the budget control ``DAI+twice`` (not in the paper)
* ``d_xt_recon``: the cVAE baselines' D_{x,t}: (x, t) against (x^, t) with the
  reconstruction x^
* ``d_xtz`` / ``d_xtc``: the cVAE baselines' D_{x,t,z} on (x, t, z^) against
  (G(z, c_t), t, z), and D_{x,t,c} likewise for content

``two_codes`` says whether an image encoder infers content c^ besides style z^;
one-variable models (cInfoGAN, cVAE) infer z^ only and take content from t.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPONENTS = (
    "d_x",
    "d_xt",
    "dali_z",
    "dali_c",
    "image_cycle",
    "code_cycle",
    "mi_reg",
    "self_reg",
    "kl",
    "d_xt_recon",
    "d_xtz",
    "d_xtc",
    "train_twice",
)


@dataclass(frozen=True)
class Variant:
    name: str
    two_codes: bool
    components: frozenset[str]
    summary: str
    table_name: str = ""  # the name the paper's tables use, when it differs

    def __post_init__(self):
        unknown = self.components - set(COMPONENTS)
        if unknown:
            raise ValueError(f"{self.name}: unknown components {sorted(unknown)}")
        needs_two = {"dali_c", "mi_reg", "self_reg", "d_xtc"} & self.components
        if needs_two and not self.two_codes:
            raise ValueError(f"{self.name}: {sorted(needs_two)} need two codes")

    def has(self, component: str) -> bool:
        return component in self.components

    @property
    def trains_twice(self) -> bool:
        """Whether each batch is trained twice, as it is and transformed (selfReg, or the budget control)."""
        return self.has("self_reg") or self.has("train_twice")

    def with_components(self, name: str, *added: str, summary: str) -> "Variant":
        return Variant(name, self.two_codes, self.components | set(added), summary)


DAI = Variant(
    "DAI",
    True,
    frozenset({"d_x", "d_xt", "dali_z", "dali_c", "image_cycle", "kl"}),
    "Dual adversarial inference (Lao et al. 2019): conditional generation, D_{x,z} and D_{x,c}, image cycle.",
)

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        DAI.with_components(
            "DRAI",
            "code_cycle",
            "mi_reg",
            "self_reg",
            summary="DAI with featureCycle, MIReg and selfReg: the paper's model.",
        ),
        DAI,
        DAI.with_components("DAI+selfReg", "self_reg", summary="Ablation: DAI with self-supervised regularization."),
        DAI.with_components("DAI+MIReg", "mi_reg", summary="Ablation: DAI with information minimization (GRL)."),
        DAI.with_components("DAI+featureCycle", "code_cycle", summary="Ablation: DAI with the latent code cycle."),
        DAI.with_components("DAI+selfReg+MIReg", "self_reg", "mi_reg", summary="Ablation: DAI with selfReg and MIReg."),
        DAI.with_components(
            "DAI+twice",
            "train_twice",
            summary="Budget control (not in the paper): DAI trained twice per batch, on x and on a transformed T(x), "
            "without the selfReg term. DRAI and the selfReg ablations get two updates per batch, the "
            "second on a rotated or flipped copy; DAI, DAI+MIReg and DAI+featureCycle get one. Set against "
            "DAI+selfReg, this variant tells what selfReg itself adds beyond the extra updates and the "
            "transformed images.",
        ),
        Variant(
            "cInfoGAN",
            False,
            frozenset({"d_x", "d_xt", "code_cycle"}),
            "Conditional InfoGAN: D_x, D_{x,t}, and G_z inferring z from the generated image.",
        ),
        Variant(
            "D-cInfoGAN",
            True,
            frozenset({"d_x", "d_xt", "code_cycle"}),
            "cInfoGAN that also infers content c from the generated image (l1 cycle).",
        ),
        Variant(
            "cVAE",
            False,
            frozenset({"image_cycle", "d_xt_recon", "d_xtz", "kl"}),
            "Conditional adversarial VAE: q(z|x), D_cycle, D_{x,t} on reconstructions, D_{x,t,z}.",
            "cAAVE",
        ),
        Variant(
            "D-cVAE",
            True,
            frozenset({"image_cycle", "d_xt_recon", "d_xtz", "d_xtc", "kl"}),
            "cVAE that also infers q(c|x), with D_{x,t,c}.",
            "D-cAAVE",
        ),
    )
}


def get_variant(name: str) -> Variant:
    """The variant called ``name``; a clear error listing the valid names otherwise."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown model variant {name!r}; valid variants: {', '.join(VARIANTS)}") from None


def loss_terms(variant: Variant) -> tuple[str, ...]:
    """Names of the loss terms a variant logs: d/... for discriminators, g/... for the rest."""
    terms = []
    for component in ("d_x", "d_xt", "dali_z", "dali_c", "image_cycle", "d_xt_recon", "d_xtz", "d_xtc"):
        if variant.has(component):
            terms += [f"d/{component}", f"g/{component}"]
    if variant.has("code_cycle"):
        terms.append("g/code_cycle")
    if variant.has("mi_reg"):
        terms.append("g/mi_reg")
    if variant.has("self_reg"):
        terms.append("g/self_reg")
    if variant.has("kl"):
        terms.append("g/kl_z")
        if variant.two_codes:
            terms.append("g/kl_c_x")
        if variant.has("d_x") or variant.has("d_xt") or variant.has("d_xtz"):
            terms.append("g/kl_c_t")
    return tuple(terms)


def model_card(variant: Variant) -> str:
    """A short Markdown card: what the variant is and the losses it trains with."""
    lines = [
        f"# {variant.name}" + (f" ({variant.table_name} in the paper's tables)" if variant.table_name else ""),
        "",
        variant.summary,
        "",
        "Codes: "
        + ("style z and content c inferred from x" if variant.two_codes else "style z inferred from x; content from t")
        + ".",
        "",
        "Components: " + ", ".join(c for c in COMPONENTS if variant.has(c)) + ".",
        "",
        "Loss terms:",
        "",
    ]
    lines += [f"- `{term}`" for term in loss_terms(variant)]
    return "\n".join(lines) + "\n"
