"""Read-only admin for branches and their audit trail.

Branches are opened, moved and closed in the console (branches:create and friends), which
previews the re-gridding and goes through the services; the admin only lets staff look.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Branch, BranchChange, GridMove


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BranchChangeInline(admin.TabularInline):
    model = BranchChange
    fields = ["created_at", "kind", "actor", "reason", "old", "new"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Branch)
class BranchAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "address", "is_active", "updated_at", "console_link"]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "address"]
    readonly_fields = ["h3_cell"]
    inlines = [BranchChangeInline]

    @admin.display(description=_("console"))
    def console_link(self, branch):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("branches:detail", args=[branch.pk]),
            _("open in console"),
        )


@admin.register(BranchChange)
class BranchChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "branch", "kind", "actor", "reason"]
    list_filter = ["kind"]
    list_select_related = ["branch", "actor"]
    search_fields = ["branch__code", "branch__name", "reason"]
    date_hierarchy = "created_at"


@admin.register(GridMove)
class GridMoveAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at", "subject_type", "subject_id", "from_branch", "to_branch", "reason"
    ]
    list_select_related = ["subject_type", "from_branch", "to_branch"]
    search_fields = ["reason", "from_branch__code", "to_branch__code"]
    date_hierarchy = "created_at"
