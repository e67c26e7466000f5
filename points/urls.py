from django.urls import path

from . import views

app_name = "points"
urlpatterns = [
    path("", views.points_home, name="home"),
    path("console/adjust/", views.console_adjust, name="console_adjust"),
    path("console/customers/", views.console_customer, name="console_customer"),
]
