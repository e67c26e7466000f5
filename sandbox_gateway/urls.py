"""The sandbox gateway's URLs, under /sandbox-gateway/ (see ``views``)."""

app_name = "sandbox_gateway"
urlpatterns: list = []
