"""Training settings: defaults, validation naming the setting, text parsing, JSON round trip."""

import json

import pytest

from mia_core.engine.config import (
    SIZE_MULTIPLE,
    AugmentConfig,
    ConfigError,
    TrainConfig,
    load_config_file,
    parse_setting,
)


def test_defaults_are_valid_and_suit_a_small_cpu():
    cfg = TrainConfig()
    cfg.validate()
    assert cfg.optimizer == "adam" and cfg.learning_rate == 1e-3
    assert cfg.patch_size <= 128 and cfg.batch_size <= 8


def test_size_multiple_matches_the_network():
    from mia_core.engine.model import SIZE_MULTIPLE as NETWORK_MULTIPLE

    assert SIZE_MULTIPLE == NETWORK_MULTIPLE


@pytest.mark.parametrize(
    "changes,setting",
    [
        ({"patch_size": 100}, "patch_size"),
        ({"patch_size": 0}, "patch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"epochs": -1}, "epochs"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"schedule": "one-cycle"}, "schedule"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"momentum": 1.5}, "momentum"),
        ({"class_weights": "manual"}, "manual_class_weights"),
        ({"num_classes": 1}, "num_classes"),
        ({"early_stopping": -2}, "early_stopping"),
        ({"border_sigma": 0}, "border_sigma"),
    ],
)
def test_bad_values_name_the_setting(changes, setting):
    with pytest.raises(ConfigError, match=f"'{setting}'"):
        TrainConfig(**changes).validate()


def test_bad_augmentation_values_name_the_setting():
    with pytest.raises(ConfigError, match="'augment.noise'"):
        TrainConfig(augment=AugmentConfig(noise=2.0)).validate()
    with pytest.raises(ConfigError, match="augment.scale_min"):
        TrainConfig(augment=AugmentConfig(scale_min=2.0, scale_max=1.0)).validate()


def test_round_trip_through_json():
    cfg = TrainConfig(backbone="plain", manual_class_weights=(0.5, 2.0), class_weights="manual",
                      class_names=("bg", "cell"), augment=AugmentConfig(noise=0.0))
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_unknown_settings_are_refused():
    with pytest.raises(ConfigError, match="unknown setting.*bogus"):
        TrainConfig.from_dict({"bogus": 1})
    with pytest.raises(ConfigError, match="augment.bogus"):
        TrainConfig.from_dict({"augment": {"bogus": 1}})
    with pytest.raises(ConfigError, match="unknown setting 'nope'"):
        parse_setting(TrainConfig(), "nope", "1")


def test_parse_setting_types_values_like_their_defaults():
    cfg = TrainConfig()
    assert parse_setting(cfg, "separate_contours", "yes").separate_contours is True
    assert parse_setting(cfg, "epochs", "7").epochs == 7
    assert parse_setting(cfg, "learning_rate", "3e-4").learning_rate == 3e-4
    assert parse_setting(cfg, "augment.noise", "0").augment.noise == 0.0
    assert parse_setting(cfg, "manual_class_weights", "0.5,2").manual_class_weights == (0.5, 2.0)
    assert parse_setting(cfg, "val_folder", "/data/val").val_folder == "/data/val"
    assert parse_setting(cfg, "num_classes", "3").num_classes == 3
    with pytest.raises(ConfigError, match="'epochs' cannot take the value 'many'"):
        parse_setting(cfg, "epochs", "many")
    with pytest.raises(ConfigError, match="separate_contours"):
        parse_setting(cfg, "separate_contours", "maybe")


def test_settings_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"epochs": 3, "augment": {"blur": 0.0}}))
    cfg = load_config_file(path)
    assert cfg.epochs == 3 and cfg.augment.blur == 0.0 and cfg.augment.noise == AugmentConfig().noise
    path.write_text("{broken")
    with pytest.raises(ConfigError, match="s.json"):
        load_config_file(path)
