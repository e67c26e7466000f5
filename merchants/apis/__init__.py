"""DRF endpoints of the merchants domain (see the modules)."""

from .applications import (  # noqa: F401
    ApplicationApproveApi,
    ApplicationDetailApi,
    ApplicationDocumentApi,
    ApplicationDocumentDeleteApi,
    ApplicationListApi,
    ApplicationRejectApi,
    ApplicationReturnApi,
    ApplicationStatusApi,
    ApplicationSubmitApi,
    ReviewQueueApi,
)
from .merchants import (  # noqa: F401
    ChangeRequestApi,
    ChangeRequestDecideApi,
    MerchantCloseApi,
    MerchantDetailApi,
    MerchantListApi,
    MerchantReinstateApi,
    MerchantSuspendApi,
    MerchantVisitsApi,
    ProfileApi,
    StaffApi,
)
