"""Branch and grid API.

Branch records are for bank staff, within their scope (head office: all; branch staff: their own
branch; anything else is a 404). "Who owns this point" and "branches near this point" answer any
signed-in user, from the open branches. Query parameters are parsed once, by ``PointQuery``.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from h3.api import basic_int as h3
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from accounts.access import IsBankStaff, branch_scope
from alliance.errors import NotFound

from . import selectors
from .models import Branch

NEARBY_PAGE_SIZE = 20

_ERRORS = {
    400: OpenApiResponse(
        description='`{"code": "invalid", "message": ..., "extra": {"fields": {...}}}`'
    ),
}


class BranchOutput(serializers.ModelSerializer):
    h3_cell = serializers.SerializerMethodField(
        help_text="H3 cell of the branch (resolution 15) in the canonical hexadecimal string "
        "form: a 64-bit id does not fit a JavaScript number."
    )

    class Meta:
        model = Branch
        fields = ["id", "code", "name", "address", "lat", "lng", "is_active", "h3_cell"]
        read_only_fields = fields

    def get_h3_cell(self, branch: Branch) -> str:
        return h3.int_to_str(branch.h3_cell)


class NearbyBranchOutput(BranchOutput):
    distance_m = serializers.FloatField(help_text="Great-circle distance from the point, metres.")

    class Meta(BranchOutput.Meta):
        fields = [*BranchOutput.Meta.fields, "distance_m"]
        read_only_fields = fields


class PointQuery(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90, help_text="WGS-84 latitude")
    lng = serializers.FloatField(min_value=-180, max_value=180, help_text="WGS-84 longitude")

    @classmethod
    def parse(cls, request, **kwargs) -> dict:
        query = cls(data=request.query_params, **kwargs)
        query.is_valid(raise_exception=True)
        return query.validated_data


class NearbyQuery(PointQuery):
    page = serializers.IntegerField(min_value=1, max_value=10_000, default=1, required=False)


class OwnerOutput(serializers.Serializer):
    branch = BranchOutput(allow_null=True, help_text="The owning branch; null: head-office pool.")
    distance_m = serializers.FloatField(allow_null=True)
    pool = serializers.BooleanField(help_text="True when no open branch's circle holds the point.")


class NearbyOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = NearbyBranchOutput(many=True)


class BranchScopeMixin:
    serializer_class = BranchOutput
    permission_classes = [IsBankStaff]

    def get_queryset(self):
        return branch_scope(self.request.user, Branch.objects.order_by("code"))


class BranchListApi(BranchScopeMixin, generics.ListAPIView):
    """Branches in the caller's scope (head office: all; branch staff: their own)."""


class BranchDetailApi(BranchScopeMixin, generics.RetrieveAPIView):
    """One branch; a branch outside the caller's scope is a 404."""


class GridOwnerApi(APIView):
    @extend_schema(
        summary="Which branch owns a point",
        parameters=[PointQuery],
        responses={200: OwnerOutput, **_ERRORS},
    )
    def get(self, request):
        point = PointQuery.parse(request)
        owner = selectors.branch_owning(lat=point["lat"], lng=point["lng"])
        return Response(
            OwnerOutput(
                {"branch": owner.branch, "distance_m": owner.distance_m, "pool": owner.in_pool}
            ).data
        )


class GridNearbyApi(APIView):
    @extend_schema(
        summary="Open branches within the grid radius (3 km) of a point, nearest first",
        parameters=[NearbyQuery],
        responses={200: NearbyOutput, 404: OpenApiResponse(description="No such page."), **_ERRORS},
    )
    def get(self, request):
        query = NearbyQuery.parse(request)
        lat, lng, page = query["lat"], query["lng"], query["page"]
        branches = selectors.active_branches()
        count = selectors.count_within(branches, lat=lat, lng=lng)
        if page > 1 and (page - 1) * NEARBY_PAGE_SIZE >= count:
            raise NotFound(_("Invalid page."))
        rows = selectors.nearest_within(
            branches, lat=lat, lng=lng, limit=NEARBY_PAGE_SIZE, offset=(page - 1) * NEARBY_PAGE_SIZE
        )
        url = request.build_absolute_uri()
        previous = None
        if page == 2:
            previous = remove_query_param(url, "page")
        elif page > 2:
            previous = replace_query_param(url, "page", page - 1)
        has_next = page * NEARBY_PAGE_SIZE < count
        return Response(
            NearbyOutput(
                {
                    "count": count,
                    "next": replace_query_param(url, "page", page + 1) if has_next else None,
                    "previous": previous,
                    "results": rows,
                }
            ).data
        )
