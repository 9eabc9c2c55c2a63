import pytest

from ecg_art.exceptions import ConfigError, RegistryError
from ecg_art.registry import Registry


def test_register_get_case_insensitive_and_listing():
    reg = Registry("widget")
    reg.register("Alpha", lambda: 1)

    @reg.register("beta")
    def beta():
        return 2

    assert reg.get("ALPHA")() == 1 and reg.get(" beta ")() == 2
    assert reg.names() == ["alpha", "beta"] and "Beta" in reg


def test_unknown_name_lists_known_ones_and_is_a_config_error():
    reg = Registry("widget")
    reg.register("alpha", lambda: 1)
    with pytest.raises(RegistryError, match="unknown widget 'gamma'; known: alpha") as info:
        reg.get("gamma")
    assert isinstance(info.value, ConfigError)


def test_duplicate_and_bad_registrations_are_refused():
    reg = Registry("widget")
    reg.register("alpha", lambda: 1)
    with pytest.raises(RegistryError, match="already registered"):
        reg.register("alpha", lambda: 2)
    reg.register("alpha", lambda: 3, overwrite=True)
    assert reg.get("alpha")() == 3
    with pytest.raises(RegistryError, match="non-empty"):
        reg.register("", lambda: 1)
    with pytest.raises(TypeError, match="callable"):
        reg.register("x", 42)


def test_entry_point_plugins_are_found():
    from ecg_art.cli import RECIPES

    assert "baseline" in RECIPES.names()


def test_a_plugin_that_fails_to_import_is_an_error_not_a_missing_name(monkeypatch):
    from importlib.metadata import EntryPoint

    from ecg_art.registry import PluginLoadError
    import ecg_art.registry as registry_module

    broken = EntryPoint(name="broken", value="no_such_module_xyz:thing", group="ecg_art.test")
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [broken])
    reg = Registry("widget", group="ecg_art.test")
    with pytest.raises(PluginLoadError, match="no_such_module_xyz"):
        reg.get("broken")
    with pytest.raises(RegistryError, match="unknown widget 'other'"):
        reg.get("other")
