"""The tenant's organization object (``GET /organization``): id = tenant id, verified domains.

Tools read it to show which tenant they are about to change; the
``.onmicrosoft.com`` domain here is also what ``publisherDomain`` of new apps
and the verified-domain rule for ``identifierUris`` use.
"""

from __future__ import annotations

from typing import Any

KIND = "organization"
TYPE_NAME = "microsoft.graph.organization"


def new_organization(tenant_id: str, display_name: str, domain: str, created: str) -> dict[str, Any]:
    return {
        "id": tenant_id,
        "deletedDateTime": None,
        "businessPhones": [],
        "city": None,
        "country": None,
        "countryLetterCode": "US",
        "createdDateTime": created,
        "defaultUsageLocation": None,
        "displayName": display_name,
        "marketingNotificationEmails": [],
        "onPremisesLastSyncDateTime": None,
        "onPremisesSyncEnabled": None,
        "partnerTenantType": None,
        "postalCode": None,
        "preferredLanguage": "en",
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": None,
        "street": None,
        "technicalNotificationMails": [],
        "tenantType": "AAD",
        "directorySizeQuota": {"used": 0, "total": 50000},
        "privacyProfile": None,
        "assignedPlans": [],
        "provisionedPlans": [],
        "verifiedDomains": [
            {
                "capabilities": "Email, OfficeCommunicationsOnline",
                "isDefault": True,
                "isInitial": True,
                "name": domain,
                "type": "Managed",
            }
        ],
    }
