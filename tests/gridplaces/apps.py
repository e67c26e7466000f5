from django.apps import AppConfig


class GridPlacesConfig(AppConfig):
    name = "tests.gridplaces"
    label = "gridplaces"
