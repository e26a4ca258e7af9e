from tests.models.zoo_fixtures import image_paths, load_zoo, samples, zoo_cache  # noqa: F401
