//! `S3Presigner`: presigned POST forms, PUT and GET URLs for the upload bucket.
