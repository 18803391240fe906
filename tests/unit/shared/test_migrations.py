import pytest

from shared.db import SHARED_MIGRATIONS, MigrationError, load_migrations


def test_migrations_load_in_version_order(tmp_path):
    (tmp_path / "0002_second.sql").write_text("SELECT 2;")
    (tmp_path / "0001_first.sql").write_text("SELECT 1;")
    assert [m.version for m in load_migrations("svc", tmp_path)] == [1, 2]


def test_badly_named_migration_is_refused(tmp_path):
    (tmp_path / "init.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lowercase_name.sql"):
        load_migrations("svc", tmp_path)


def test_two_migrations_with_one_version_are_refused(tmp_path):
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationError, match="share a version"):
        load_migrations("svc", tmp_path)


def test_shared_outbox_migration_ships_with_the_package():
    assert [m.name for m in load_migrations("shared", SHARED_MIGRATIONS)][0] == "0001_outbox.sql"


def test_every_migrations_folder_ships_in_the_package():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    for folder in [*root.glob("shared/migrations"), *root.glob("services/*/*/migrations")]:
        package = folder.parent.name + ".migrations"
        assert package in listed, f"{package} is missing from [tool.setuptools] packages in pyproject.toml"
