from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("merchant/login/", views.merchant_login, name="merchant_login"),
    path("merchant/password/", views.merchant_password, name="merchant_password"),
    path("staff/login/", views.staff_login, name="staff_login"),
    path("logout/", views.logout_view, name="logout"),
]
