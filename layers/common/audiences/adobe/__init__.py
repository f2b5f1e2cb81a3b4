"""Adobe Experience Platform's external-audiences API, as an adapter over the shared core."""
