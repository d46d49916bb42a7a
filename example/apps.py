from django.apps import AppConfig


class ExampleConfig(AppConfig):
    """The example project's own app: the "my billing" page and a webhook handler."""

    name = "example"
    label = "example"

    def ready(self) -> None:
        from example import handlers  # noqa: F401  (registers the example's event handler)
