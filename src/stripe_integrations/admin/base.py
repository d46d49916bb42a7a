"""The admin every mirrored Stripe model shares: read-only, linked to the Stripe dashboard,
with a "Sync from Stripe" action and change-page button that go through the sync path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import SimpleTemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from stripe_integrations.admin.display import external_link, money, pretty_json
from stripe_integrations.admin.refresh import refresh_rows, report
from stripe_integrations.redaction import redact
from stripe_integrations.sync.fetch import RETRIEVABLE, refresh_object

DisplayFn = Callable[[Any, Any], Any]
#: Columns every mirrored model has, shown after the model's own (``stripe_id`` stays first).
COMMON_FIELDS = frozenset({"livemode", "created", "synced_at"})


def _redact_content(response: HttpResponse) -> None:
    if response.streaming:
        return
    content_type = response.get("Content-Type", "")
    if not content_type.startswith(("text/", "application/json")):
        return
    charset = response.charset or "utf-8"
    text = response.content.decode(charset, errors="replace")
    cleaned = redact(text)
    if cleaned != text:
        response.content = cleaned.encode(charset)


def redacted(response: HttpResponse) -> HttpResponse:
    """``response`` with the configured secrets and every Stripe secret shape replaced by
    ``[redacted]`` in its body, once rendered. Whatever a page shows from a mirrored row
    (list columns, read-only fields, inlines, titles, messages, raw JSON) passes through it."""
    if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
        response.add_post_render_callback(_redact_content)
    else:
        _redact_content(response)
    return response


def related(name: str, description: str | None = None) -> DisplayFn:
    """A column showing the row a foreign key ``name`` points to, linked to its admin page,
    or its Stripe id marked "not mirrored" when that row is not in the database."""

    def show(self: MirroredAdmin, obj: models.Model) -> SafeString | str:
        return self.or_empty(self.related_link(obj, name))

    label = description or name.replace("_", " ")
    return admin.display(description=label, ordering=f"{name}_id")(show)


def amount(name: str, description: str | None = None) -> DisplayFn:
    """A column showing the minor-unit amount ``name`` with the row's currency."""

    def show(self: MirroredAdmin, obj: models.Model) -> str:
        return self.or_empty(money(getattr(obj, name), getattr(obj, "currency", None)))

    label = description or name.replace("_", " ")
    return admin.display(description=label, ordering=name)(show)


class MirroredAdmin(admin.ModelAdmin):
    """Stripe is the source of truth: no add, no delete, and no mirrored column editable.

    ``editable_fields`` names local columns staff may change; saving writes only those. A
    column ``x`` is shown on the change page by the method ``x_display`` when there is one.
    """

    list_per_page = 50
    show_full_result_count = False
    actions = ("sync_from_stripe",)
    change_form_template = "stripe_integrations/admin/change_form.html"
    #: Local columns staff may edit. Nothing else is ever written by the admin.
    editable_fields: tuple[str, ...] = ()
    #: Most rows one "Sync from Stripe" refreshes; more is a job for ``stripe_sync``.
    sync_limit = 50
    #: Appended to the "no longer in Stripe" message (what the sync path did with them).
    missing_note = ""

    # --- what can be done ------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def can_fetch(self) -> bool:
        """Whether rows of this model can be re-fetched one by one from Stripe."""
        return self.model.STRIPE_OBJECT in RETRIEVABLE

    def fetch(self, obj: Any) -> models.Model | None:
        """Re-fetch ``obj`` through the sync path: the refreshed row, or None when Stripe no
        longer has it. Raises the library's ``StripeAPIError``."""
        return refresh_object(obj.STRIPE_OBJECT, obj.stripe_id)

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Django 6.1 passes ``action_location`` (change-list or change-form actions) and warns
        # about overrides without it; Django 5.2 does not pass it.
        if action_location is None:
            actions = super().get_actions(request)
        else:
            actions = super().get_actions(request, action_location=action_location)  # type: ignore[call-arg]
        if not self.can_fetch():
            actions.pop("sync_from_stripe", None)
        return actions

    # --- every page: secrets redacted ------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return redacted(super().changelist_view(request, extra_context))

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponse:
        return redacted(super().changeform_view(request, object_id, form_url, extra_context))

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        return redacted(super().history_view(request, object_id, extra_context))

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        return redacted(super().delete_view(request, object_id, extra_context))

    # --- change page ---------------------------------------------------------------------

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        own: list[str] = ["dashboard_link"]
        common: list[str] = []
        for f in self.model._meta.concrete_fields:
            if f.primary_key or f.name in ("raw", "metadata"):
                continue
            shown = f"{f.name}_display"
            use_display = f.name not in self.editable_fields and hasattr(self, shown)
            name = shown if use_display else f.name
            (common if f.name in COMMON_FIELDS else own).append(name)
        return [*own, *common, "metadata_display", "raw_display"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [n for n in self.get_fields(request, obj) if n not in self.editable_fields]

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        """Write only the local columns that changed, never the mirrored ones (a full save
        could put back values a concurrent sync just replaced)."""
        changed = [name for name in form.changed_data if name in self.editable_fields]
        if changed:
            obj.save(update_fields=changed)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None:
            context["stripe_dashboard_url"] = self.dashboard_url(obj)
            if self.can_fetch() and self.has_change_permission(request, obj):
                context["stripe_sync_url"] = self.admin_url("sync", obj.pk)
        if not self.editable_fields:
            context.update(show_save=False, show_save_and_continue=False)
        context["show_save_and_add_another"] = False
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- "Sync from Stripe" -----------------------------------------------------------------

    @admin.action(
        description="Sync selected %(verbose_name_plural)s from Stripe", permissions=["change"]
    )
    def sync_from_stripe(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        rows = list(queryset[: self.sync_limit + 1])
        if len(rows) > self.sync_limit:
            self.message_user(
                request,
                f"Select at most {self.sync_limit} rows to sync from here; "
                "run `manage.py stripe_sync` to mirror more.",
                messages.ERROR,
            )
            return
        self.sync_rows(request, rows)

    def sync_rows(self, request: HttpRequest, rows: Sequence[Any]) -> None:
        report(self, request, refresh_rows(rows, self.fetch), self.missing_note)

    def get_urls(self) -> list[URLPattern]:
        urls = super().get_urls()
        if not self.can_fetch():
            return urls
        opts = self.opts
        sync = path(
            "<path:object_id>/sync/",
            self.admin_site.admin_view(self.sync_view),
            name=f"{opts.app_label}_{opts.model_name}_sync",
        )
        return [sync, *urls]

    def sync_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: re-fetch one row from Stripe (staff with the change permission only)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            self.message_user(request, f"No row with id {object_id!r}.", messages.WARNING)
            return HttpResponseRedirect(self.admin_url("changelist"))
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        self.sync_rows(request, [obj])
        if self.get_queryset(request).filter(pk=obj.pk).exists():
            return HttpResponseRedirect(self.admin_url("change", obj.pk))
        return HttpResponseRedirect(self.admin_url("changelist"))

    # --- displays --------------------------------------------------------------------------

    def admin_url(self, view: str, pk: Any = None, model: Any = None) -> str:
        """The URL of ``view`` (``change``, ``changelist``, ``sync``) in this admin site."""
        opts = (model or self.model)._meta
        name = f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{view}"
        return reverse(name, args=[] if pk is None else [quote(pk)])

    def or_empty(self, value: SafeString | str | None) -> SafeString | str:
        """``value``, or the admin's "empty" mark (a change page would print "None")."""
        return self.get_empty_value_display() if value is None else value

    def dashboard_url(self, obj: Any) -> str | None:
        """Where ``obj`` is in the Stripe dashboard."""
        return str(obj.dashboard_url)

    def related_link(self, obj: models.Model, name: str) -> SafeString | str | None:
        field = obj._meta.get_field(name)
        value = getattr(obj, field.attname)  # type: ignore[union-attr]
        if value is None or value == "":
            return None
        try:
            target = getattr(obj, name)
        except ObjectDoesNotExist:
            target = None
        if target is None:
            return format_html('{} <span class="quiet">(not mirrored)</span>', value)
        if not self.admin_site.is_registered(type(target)):
            return str(target)
        url = self.admin_url("change", target.pk, model=type(target))
        return format_html('<a href="{}" title="{}">{}</a>', url, value, target)

    @admin.display(description="Stripe dashboard")
    def dashboard_link(self, obj: Any) -> SafeString | str:
        return self.or_empty(external_link(self.dashboard_url(obj)))

    @admin.display(description="metadata")
    def metadata_display(self, obj: Any) -> SafeString:
        return pretty_json(obj.metadata)

    @admin.display(description="raw object (as last synced)")
    def raw_display(self, obj: Any) -> SafeString:
        return pretty_json(obj.raw)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown inside their parent's page; visible to whoever may see the parent."""

    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [name for name in self.fields or () if isinstance(name, str)]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        opts = self.parent_model._meta
        return super().has_view_permission(request, obj) or any(
            request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
            for action in ("view", "change")
        )
