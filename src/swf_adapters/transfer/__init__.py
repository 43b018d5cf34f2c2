"""FileStager adapters: moving FileTransfer data between client and resource."""
