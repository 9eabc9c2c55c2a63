import dataclasses

import numpy as np
import pytest

from recipes.common import config_hash, derived_metrics, format_table
from recipes.defences import AT
from recipes.paper import PROFILES, tables


class _Oracle:
    """A 'classifier' whose prediction is the label stored in the beat's first sample."""

    input_shape = (1, 4)
    nb_classes = 3
    clip_values = (0.0, 2.0)

    def predict(self, x, batch_size=1024, **kw):
        return np.eye(3, dtype=np.float32)[x[:, 0, 0].astype(int)]


def _beats(labels):
    x = np.zeros((len(labels), 1, 4), dtype=np.float32)
    x[:, 0, 0] = labels
    return x


def test_worst_case_and_ensembles_count_a_beat_robust_only_if_every_attack_fails():
    y = np.array([0, 1, 2, 0])
    adv = {("ta-apgd", 0.05): _beats([0, 1, 0, 0]),      # beat 2 broken
           ("ta-apgd-dlr", 0.05): _beats([0, 0, 2, 0]),  # beat 1 broken
           ("fgsm", 0.05): _beats([0, 1, 2, 1])}         # beat 3 broken
    out = derived_metrics(_Oracle(), adv, y, clean_accuracy=1.0, eps=(0.05,), clean_correct=np.ones(4, bool))
    assert out["apgd-ce-dlr@0.05"] == pytest.approx(0.5)  # beats 0 and 3 survive both APGDs
    assert "autoattack@0.05" not in out  # two APGDs are no AutoAttack: the standard one is an attack of its own
    assert out["worst@0.05"] == pytest.approx(0.25)       # only beat 0 survives everything
    wrong_clean = derived_metrics(_Oracle(), adv, y, clean_accuracy=0.75, eps=(0.05,),
                                  clean_correct=np.array([False, True, True, True]))
    assert wrong_clean["worst@0.05"] == 0.0 and wrong_clean["apgd-ce-dlr@0.05"] == pytest.approx(0.25)
    assert out["acc_robust@0.05"] == pytest.approx(np.sqrt(1.0 * 0.75))  # only FGSM of the reference's four ran
    assert out["worst@0.05"] <= min(out["apgd-ce-dlr@0.05"], 0.75)


def test_worst_case_includes_the_standard_autoattack():
    y = np.array([0, 1, 2, 0])
    adv = {("ta-apgd", 0.05): _beats([0, 1, 2, 0]), ("ta-apgd-dlr", 0.05): _beats([0, 1, 2, 0]),
           ("autoattack", 0.05): _beats([0, 1, 0, 1])}  # only the standard AutoAttack breaks beats 2 and 3
    out = derived_metrics(_Oracle(), adv, y, clean_accuracy=1.0, eps=(0.05,), clean_correct=np.ones(4, bool))
    assert out["apgd-ce-dlr@0.05"] == 1.0 and out["worst@0.05"] == pytest.approx(0.5)


def test_paper_tables_put_the_reference_columns_first_and_detector_apart():
    rows = [{"model": "baseline", "clean": 0.97, "macro_f1": 0.9, "pgd@0.05": 0.0, "sap@0.05": 0.1, "params": 42885,
             "apgd-ce-dlr@0.05": 0.02, "autoattack@0.05": 0.01, "worst@0.05": 0.0},
            {"model": "detector", "detector_auc": 0.95, "detector_auc_adaptive": 0.5}]
    text = tables(rows, (0.05,))
    header = text.splitlines()[0]
    assert header.startswith("| Model | Clean | PGD-20 @0.05 | SAP @0.05 | Params | macro-F1")
    assert "| baseline | 97.00 | 0.00 | 10.00 | 42885 | 90.00 |" in text
    assert header.endswith("| APGD-CE+DLR @0.05 | AutoAttack (standard) @0.05 | worst case @0.05 |")
    assert "| 2.00 | 1.00 | 0.00 |" in text and "AutoAttack (APGD" not in text
    assert "Detector" in text and "| detector | 95.00 | 50.00 |" in text


def test_config_hash_ignores_bookkeeping_but_not_settings():
    quick = AT["quick"]
    assert config_hash(quick) == config_hash(quick.__class__(**{**quick.to_dict(), "tracking_uri": "x",
                                                                 "resume": True}))
    assert config_hash(quick) != config_hash(quick.__class__(**{**quick.to_dict(), "train_eps": 0.01}))


def test_format_table_blanks_missing_values():
    assert format_table([{"a": "x"}], ["a", "b"]).splitlines()[-1] == "| x |  |"


def test_paper_profiles_attack_with_the_reference_acc_robust_set():
    assert {"fgsm", "pgd", "pgd-100", "sap"} <= set(PROFILES["quick"].attacks)


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_every_profile_runs_the_standard_autoattack_with_its_standard_settings(profile):
    from recipes.common import attack_kwargs

    cfg = PROFILES[profile]
    assert "autoattack" in cfg.attacks
    for stage in ("baseline", "at", "at-nsr", "fusion"):
        scfg = _stage(cfg, stage)
        assert "autoattack" in scfg.attacks and "autoattack" not in attack_kwargs(scfg, scfg.attacks), stage


def _stage(cfg, stage, init_from="baseline/best.pt"):
    from ecg_art.cli import RECIPES
    from recipes.paper import _stage_config

    return _stage_config(cfg, RECIPES.get(stage), stage, None if stage == "baseline" else init_from)


def test_full_profile_uses_every_training_beat_and_fine_tunes_the_defences():
    cfg = PROFILES["full"]
    own = {(s, f): v for s, f, v in cfg.stage_settings}
    for stage in cfg.stages:
        scfg = _stage(cfg, stage)
        assert scfg.profile == "full" and scfg.train_n is None and scfg.val_n is None, stage
        assert scfg.apgd_steps == 100 and scfg.eval_n == own.get((stage, "eval_n"), cfg.eval_n), stage
    for stage in ("at", "nsr", "at-nsr"):
        scfg = _stage(cfg, stage)
        assert scfg.init_from == "baseline/best.pt" and scfg.nb_epochs == cfg.finetune_epochs
    # every (stage, field, value) entry lands on its stage's config, and on no other stage's
    for stage, field, value in cfg.stage_settings:
        assert getattr(_stage(cfg, stage), field) == value, (stage, field)
    assert _stage(cfg, "at").nb_epochs != dict(((s, f), v) for s, f, v in cfg.stage_settings)[("baseline", "nb_epochs")]
    # from scratch (the GPU schedule): the defences keep their own full profile's epochs and start untrained
    scratch = _stage(dataclasses.replace(cfg, warm_start=False), "at")
    assert scratch.init_from is None and scratch.nb_epochs == AT["full"].nb_epochs


def test_stage_settings_given_on_the_command_line_as_json_lists():
    from ecg_art.cli import apply_overrides

    cfg = apply_overrides(PROFILES["quick"], ['stage_settings=[["fusion", "blackbox", ["square", "hsj"]], '
                                              '["fusion", "nb_epochs", 3]]', "eval_n=300"])
    fusion = _stage(cfg, "fusion")
    assert fusion.blackbox == ("square", "hsj") and fusion.nb_epochs == 3 and fusion.eval_n == 300
    # quick: 200 attacked beats for every model (the recipes' own quick values: baseline 1000, defences 500), the
    # clean fusion ablation 100 (its own stage setting); with eval_n None each recipe keeps its own
    assert {s: _stage(PROFILES["quick"], s).eval_n for s in ("baseline", "at", "at-nsr", "fusion", "fusion-clean")} == \
        {"baseline": 200, "at": 200, "at-nsr": 200, "fusion": 200, "fusion-clean": 100}
    assert _stage(dataclasses.replace(PROFILES["quick"], eval_n=None), "at").eval_n == 500


def test_bad_stage_settings_name_the_entry(tmp_path):
    from ecg_art.exceptions import ConfigError
    from recipes.paper import run

    bad_field = dataclasses.replace(PROFILES["quick"], stage_settings=(("at", "no_such_field", 1),))
    with pytest.raises(ConfigError, match="stage 'at' has no field 'no_such_field'"):
        _stage(bad_field, "at")
    with pytest.raises(ConfigError, match=r"expected \(stage, field, value\)"):
        _stage(dataclasses.replace(PROFILES["quick"], stage_settings=(("at", 1),)), "at")
    # a stage that is not run is refused before anything is trained or written
    bad_stage = dataclasses.replace(PROFILES["quick"], stage_settings=(("atn", "nb_epochs", 1),),
                                    output_dir=str(tmp_path / "out"))
    with pytest.raises(ConfigError, match="atn"):
        run(bad_stage)
    assert not (tmp_path / "out").exists()


def test_a_subset_of_stages_keeps_the_profile_settings_of_the_others():
    from ecg_art.cli import RECIPES
    from ecg_art.exceptions import ConfigError
    from recipes.paper import check_stage_settings

    subset = dataclasses.replace(PROFILES["full"], stages=("baseline", "detector"))
    check_stage_settings(subset, RECIPES.names())  # fusion's settings are kept, unused
    assert _stage(subset, "detector").det_train_n == 5000
    with pytest.raises(ConfigError, match="unknown stages atn"):
        check_stage_settings(dataclasses.replace(subset, stage_settings=(("atn", "nb_epochs", 1),)), RECIPES.names())


def test_fusion_stages_start_their_cnn_branch_from_at_nsr_and_the_baseline():
    from ecg_art.cli import RECIPES
    from recipes.paper import _stage_config

    ckpts = {"baseline": "b/best.pt", "at-nsr": "atnsr/best.pt"}
    cfg = PROFILES["full"]
    fusion = _stage_config(cfg, RECIPES.get("fusion"), "fusion", "b/best.pt", ckpts)
    clean = _stage_config(cfg, RECIPES.get("fusion-clean"), "fusion-clean", "b/best.pt", ckpts)
    assert fusion.init_cnn_from == "atnsr/best.pt" and fusion.adv_train and not fusion.freeze_cnn
    assert clean.init_cnn_from == "b/best.pt" and not clean.adv_train and clean.freeze_cnn
    assert fusion.name == "fusion" and clean.name == "fusion-clean"
    # without an AT+NSR stage the defended fusion model trains its own CNN branch (stage 1)
    assert _stage_config(cfg, RECIPES.get("fusion"), "fusion", None, {"baseline": "b"}).init_cnn_from is None
    # inter: every model is selected on whole DS1 records held out of training
    inter = dataclasses.replace(cfg, split="inter")
    assert _stage_config(inter, RECIPES.get("at-nsr"), "at-nsr", "b", ckpts).val_by_record
    assert not _stage_config(cfg, RECIPES.get("at-nsr"), "at-nsr", "b", ckpts).val_by_record


def test_aami_table_has_de_chazal_on_the_inter_patient_split_only():
    from recipes.paper import DE_CHAZAL_2004, aami_table

    sens = {"N": 0.9, "S": 0.5, "V": 0.8, "F": 0.1, "Q": float("nan")}
    rows = [{"model": "fusion", "clean": 0.9, "macro_f1": 0.5, "sens": sens, "ppv": sens}]
    inter, intra = tables(rows, (0.05,), split="inter"), tables(rows, (0.05,), split="intra")
    assert "| Model | N Se | N +P | S Se | S +P | V Se | V +P | F Se | F +P |" in inter
    assert "| fusion | 90.00 | 90.00 | 50.00 | 50.00 | 80.00 | 80.00 | 10.00 | 10.00 |" in inter
    assert "de Chazal" in inter and "| 75.90 | 38.50 |" in inter and "de Chazal" not in intra
    assert "fusion | 90.00 | 90.00 | 50.00" in intra
    assert aami_table([{"model": "x", "clean": 1.0}]) == ""  # rows without per-class figures: no table
    assert DE_CHAZAL_2004["sens"]["V"] == 0.777


def test_every_model_stage_gets_the_eps_curve_and_the_detector_does_not():
    quick, full = PROFILES["quick"], PROFILES["full"]
    assert 0.1 in quick.curve_eps and 0.1 in full.curve_eps and full.curve_n >= quick.curve_n
    for stage in ("baseline", "at", "nsr", "at-nsr", "fusion", "fusion-clean"):
        scfg = _stage(quick, stage)
        assert (scfg.curve_eps, scfg.curve_n) == (quick.curve_eps, quick.curve_n)
    detector = _stage(quick, "detector")
    from recipes.detector import PROFILES as DETECTOR

    assert (detector.curve_eps, detector.curve_n) == (DETECTOR["quick"].curve_eps, DETECTOR["quick"].curve_n)


def test_a_resumed_row_of_before_the_standard_autoattack_is_relabelled():
    from recipes.paper import legacy_row

    old = {"model": "at", "autoattack@0.05": 0.436, "worst@0.05": 0.428}
    assert legacy_row(old, ["fgsm", "ta-apgd", "ta-apgd-dlr"]) == {"model": "at", "apgd-ce-dlr@0.05": 0.436,
                                                                   "worst@0.05": 0.428}
    new = {"autoattack@0.05": 0.396, "apgd-ce-dlr@0.05": 0.436}
    assert legacy_row(new, ["ta-apgd", "autoattack"]) == new


class _FakeRun:
    """The paper job's MLflow parent run, in memory."""

    run_id = "fake"

    def __init__(self, *a, **kw):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def child(self, name):
        return self

    def log_params(self, *a, **kw):
        pass

    log_metrics = log_text = log_dict = log_artifact = log_params


def test_noise_and_certify_stages_switch_on_and_score_the_jobs_own_models(tmp_path, monkeypatch):
    """`stages=[..., "noise", "certify"]`: the noise stage gets the checkpoints the job's model stages wrote (the wider
    CNN's with its network's name), certify fine-tunes the job's baseline, neither is a row of the models table; their
    tables and figures reach the report. The wider CNN's defence trains from its own warm-up, not the baseline."""
    import json

    import ecg_art.tracking
    import recipes.baseline
    import recipes.certify
    import recipes.defences
    import recipes.fusion
    import recipes.noise
    from matplotlib.figure import Figure

    from recipes.common import results_dir

    seen = {}

    def fake(name, result):
        def run(cfg, *, tracker=None):
            seen[name] = cfg
            out = results_dir(cfg)
            if name in ("baseline", "at-nsr-wide"):
                (out / "checkpoints-train").mkdir(parents=True, exist_ok=True)
                (out / "checkpoints-train" / "best.pt").write_bytes(b"x")
            elif name == "fusion":  # where the recipe's stage 2 writes (its own config's folder)
                stage2 = results_dir(recipes.fusion.stage2_config(cfg)) / "checkpoints-stage2"
                stage2.mkdir(parents=True, exist_ok=True)
                (stage2 / "best.pt").write_bytes(b"x")
            else:
                Figure().savefig(out / getattr(recipes, name).FIGURE_FILE)
            (out / "results.json").write_text(json.dumps(result))
            return result.get("row", result)
        return run

    noise_res = {"results": {"baseline": [{"kind": "clean", "snr_db": 1e9, "accuracy": 0.99, "macro_f1": 0.9},
                                          {"kind": "bw", "snr_db": 6.0, "accuracy": 0.93, "macro_f1": 0.8}]},
                 "n_beats": {"baseline": 100}}
    cert_res = {"rows": {"0.25": {"sigma": 0.25, "base_clean_accuracy": 0.95, "smoothed_accuracy": 0.94,
                                  "abstain": 0.01, "cert@0": 0.94, "cert@0.25": 0.9, "cert@0.8": 0.0,
                                  "cert@0.25_N": 0.95, "max_radius": 0.7996}},
                "config": {"n_samples": 10000, "alpha": 0.001}, "n_beats": 500}
    monkeypatch.setattr(recipes.baseline, "run", fake("baseline", {"row": {"model": "baseline", "clean": 0.99}}))
    # a frozen Recipe: its run replaced through its __dict__ (restored by monkeypatch)
    monkeypatch.setitem(vars(recipes.fusion.FUSION_RECIPE), "run",
                        fake("fusion", {"row": {"model": "fusion", "clean": 0.98}}))
    monkeypatch.setitem(vars(recipes.defences.AT_NSR_WIDE_RECIPE), "run",
                        fake("at-nsr-wide", {"row": {"model": "at-nsr-wide", "clean": 0.97}}))
    monkeypatch.setattr(recipes.noise, "run", fake("noise", noise_res))
    monkeypatch.setattr(recipes.certify, "run", fake("certify", cert_res))
    monkeypatch.setattr(ecg_art.tracking, "Tracker", _FakeRun)
    from recipes.paper import run

    cfg = dataclasses.replace(PROFILES["quick"], stages=("baseline", "at-nsr-wide", "fusion", "noise", "certify"),
                              output_dir=str(tmp_path), threads=1)
    rows = run(cfg)
    # the analyses are no rows of the models table
    assert [r["model"] for r in rows] == ["baseline", "at-nsr-wide", "fusion"]
    ckpt = str(results_dir(seen["baseline"]) / "checkpoints-train" / "best.pt")
    wide = seen["at-nsr-wide"]
    assert (wide.model, wide.init_from, wide.warmup_epochs) == ("baseline_cnn_wide", None, 4)
    wide_ckpt = results_dir(wide) / "checkpoints-train" / "best.pt"
    fusion_ckpt = results_dir(recipes.fusion.stage2_config(seen["fusion"])) / "checkpoints-stage2" / "best.pt"
    assert seen["noise"].models == (f"baseline={ckpt}", f"at-nsr-wide=baseline_cnn_wide:{wide_ckpt}",
                                    f"fusion=fusion:{fusion_ckpt}")
    assert seen["noise"].eval_n == recipes.noise.PROFILES[
        "quick"].eval_n
    assert seen["certify"].init_from == ckpt and seen["certify"].nb_epochs == cfg.finetune_epochs
    assert seen["certify"].eval_n == recipes.certify.PROFILES["quick"].eval_n
    paper_dir = tmp_path / "paper-quick-intra-s0"
    table = (paper_dir / "table.md").read_text()
    assert "Noise stress test" in table and "| baseline | 99.00 | 93.00 |" in table
    assert "| 0.25 | 95.00 | 94.00 | 1.00 | 90.00 | 0.00 | 0.7996 |" in table
    html = (paper_dir / "report.html").read_text()
    assert (paper_dir / "noise_robustness.png").is_file() and (paper_dir / "certified_accuracy.png").is_file()
    assert "Certified accuracy vs L2 radius" in html and "Accuracy and macro-F1 vs SNR" in html
    assert set(json.loads((paper_dir / "table.json").read_text())["analyses"]) == {"noise", "certify"}


def test_noise_and_certify_are_no_default_stage_of_the_quick_job():
    assert "noise" not in PROFILES["quick"].stages and "certify" not in PROFILES["quick"].stages
