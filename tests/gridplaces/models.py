from django.db import models

from branches.models import GriddedPlace


class Place(GriddedPlace):
    name = models.CharField(max_length=64)

    class Meta(GriddedPlace.Meta):
        app_label = "gridplaces"

    def __str__(self) -> str:
        return self.name
