"""The application resource's shape: its properties, their types and a new registration's defaults.

``template`` is a registration exactly as Graph returns it before any property is
set; the property sets drive PATCH type checks and ``$select``/``$filter`` name
checks (unknown names are Graph's 400, not silently ignored).
"""

from __future__ import annotations

from typing import Any

from provisioner.emulator.graph.credentials import PERSONAL_AUDIENCES

KIND = "applications"
DELETED_KIND = "deletedApplications"
TYPE_NAME = "microsoft.graph.application"
RESOURCE = "Application"

AUDIENCES = frozenset({"AzureADMyOrg", "AzureADMultipleOrgs", *PERSONAL_AUDIENCES})

READ_ONLY = frozenset(
    {
        "id",
        "appId",
        "createdDateTime",
        "deletedDateTime",
        "publisherDomain",
        "applicationTemplateId",
        "disabledByMicrosoftStatus",
        "certification",
        "verifiedPublisher",
    }
)
LISTS = frozenset(
    {
        "addIns",
        "appRoles",
        "identifierUris",
        "keyCredentials",
        "passwordCredentials",
        "requiredResourceAccess",
        "tags",
    }
)
STRINGS = frozenset(
    {
        "description",
        "displayName",
        "groupMembershipClaims",
        "notes",
        "samlMetadataUrl",
        "serviceManagementReference",
        "signInAudience",
        "tokenEncryptionKeyId",
        "uniqueName",
        "defaultRedirectUri",
        "nativeAuthenticationApisEnabled",
    }
)
BOOLS = frozenset({"isDeviceOnlyAuthSupported", "isFallbackPublicClient", "oauth2RequirePostResponse"})
# Complex properties and the sub-properties their types define.
COMPLEX: dict[str, tuple[str, frozenset[str]]] = {
    "api": (
        "microsoft.graph.apiApplication",
        frozenset(
            {
                "acceptMappedClaims",
                "knownClientApplications",
                "oauth2PermissionScopes",
                "preAuthorizedApplications",
                "requestedAccessTokenVersion",
            }
        ),
    ),
    "web": (
        "microsoft.graph.webApplication",
        frozenset(
            {"homePageUrl", "implicitGrantSettings", "logoutUrl", "redirectUris", "redirectUriSettings"}
        ),
    ),
    "spa": ("microsoft.graph.spaApplication", frozenset({"redirectUris"})),
    "windows": ("microsoft.graph.windowsApplication", frozenset({"packageSid", "redirectUris"})),
    "publicClient": ("microsoft.graph.publicClientApplication", frozenset({"redirectUris"})),
    "info": (
        "microsoft.graph.informationalUrl",
        frozenset({"logoUrl", "marketingUrl", "privacyStatementUrl", "supportUrl", "termsOfServiceUrl"}),
    ),
    "parentalControlSettings": (
        "microsoft.graph.parentalControlSettings",
        frozenset({"countriesBlockedForMinors", "legalAgeGroupRule"}),
    ),
    "optionalClaims": ("microsoft.graph.optionalClaims", frozenset({"accessToken", "idToken", "saml2Token"})),
    "requestSignatureVerification": (
        "microsoft.graph.requestSignatureVerification",
        frozenset({"allowedWeakAlgorithms", "isSignedRequestRequired"}),
    ),
    "servicePrincipalLockConfiguration": (
        "microsoft.graph.servicePrincipalLockConfiguration",
        frozenset(
            {
                "isEnabled",
                "allProperties",
                "credentialsWithUsageVerify",
                "credentialsWithUsageSign",
                "identifierUris",
                "tokenEncryptionKeyId",
            }
        ),
    ),
}


def template(object_id: str, app_id: str, created: str, publisher_domain: str) -> dict[str, Any]:
    """A new registration exactly as Graph returns it before any property is set."""
    return {
        "id": object_id,
        "deletedDateTime": None,
        "appId": app_id,
        "applicationTemplateId": None,
        "disabledByMicrosoftStatus": None,
        "createdDateTime": created,
        "displayName": None,
        "description": None,
        "groupMembershipClaims": None,
        "identifierUris": [],
        "isDeviceOnlyAuthSupported": None,
        "isFallbackPublicClient": None,
        "nativeAuthenticationApisEnabled": None,
        "notes": None,
        "oauth2RequirePostResponse": False,
        "publisherDomain": publisher_domain,
        "serviceManagementReference": None,
        "signInAudience": "AzureADMyOrg",
        "tags": [],
        "tokenEncryptionKeyId": None,
        "uniqueName": None,
        "samlMetadataUrl": None,
        "defaultRedirectUri": None,
        "certification": None,
        "optionalClaims": None,
        "requestSignatureVerification": None,
        "servicePrincipalLockConfiguration": None,
        "addIns": [],
        "api": {
            "acceptMappedClaims": None,
            "knownClientApplications": [],
            "requestedAccessTokenVersion": None,
            "oauth2PermissionScopes": [],
            "preAuthorizedApplications": [],
        },
        "appRoles": [],
        "info": {
            "logoUrl": None,
            "marketingUrl": None,
            "privacyStatementUrl": None,
            "supportUrl": None,
            "termsOfServiceUrl": None,
        },
        "keyCredentials": [],
        "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
        "passwordCredentials": [],
        "publicClient": {"redirectUris": []},
        "requiredResourceAccess": [],
        "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
        "web": {
            "homePageUrl": None,
            "logoutUrl": None,
            "redirectUris": [],
            "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False},
            "redirectUriSettings": [],
        },
        "spa": {"redirectUris": []},
        # In the documented upsert response; null until a Windows (WAM) platform is configured.
        "windows": None,
    }


KNOWN_PROPERTIES = frozenset(template("", "", "", "")) | {"logo"}
