"""The catalogue import (operations.md § import_catalogue): a document is read and checked
whole (`reading`, `references`, into `entries`), then written in one transaction
(`importing.catalogue_import`)."""
