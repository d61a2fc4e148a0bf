#include "services/s3/xml/s3_xml.h"

#include <string>

#include "absl/strings/match.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "pugixml.hpp"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

constexpr char kDecl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
const absl::Time kTime = absl::FromUnixSeconds(1255369830) + absl::Milliseconds(42);

pugi::xml_node Root(pugi::xml_document* doc, const std::string& xml) {
  EXPECT_TRUE(doc->load_string(xml.c_str())) << xml;
  return doc->document_element();
}

TEST(S3XmlTest, Iso8601WithMilliseconds) {
  EXPECT_EQ(FormatIso8601(kTime), "2009-10-12T17:50:30.042Z");
  EXPECT_EQ(FormatIso8601(absl::FromUnixSeconds(0)), "1970-01-01T00:00:00.000Z");
}

TEST(S3XmlTest, ErrorIsExactAndEscaped) {
  EXPECT_EQ(WriteError({"NoSuchKey", "The specified key does not exist.", "/b/a<&>\"k", "R1"}),
            std::string(kDecl) +
                "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist."
                "</Message><Resource>/b/a&lt;&amp;&gt;\"k</Resource><RequestId>R1</RequestId>"
                "</Error>");
}

TEST(S3XmlTest, ListAllMyBuckets) {
  std::string xml =
      WriteListAllMyBuckets({"owner-id", "alice"}, {{"a", kTime}, {"b", absl::UnixEpoch()}});
  EXPECT_TRUE(absl::StartsWith(xml, kDecl));
  pugi::xml_document doc;
  pugi::xml_node root = Root(&doc, xml);
  EXPECT_STREQ(root.name(), "ListAllMyBucketsResult");
  EXPECT_STREQ(root.attribute("xmlns").value(), "http://s3.amazonaws.com/doc/2006-03-01/");
  EXPECT_STREQ(root.child("Owner").child_value("ID"), "owner-id");
  EXPECT_STREQ(root.child("Owner").child_value("DisplayName"), "alice");
  pugi::xml_node b = root.child("Buckets").child("Bucket");
  EXPECT_STREQ(b.child_value("Name"), "a");
  EXPECT_STREQ(b.child_value("CreationDate"), "2009-10-12T17:50:30.042Z");
  EXPECT_STREQ(b.next_sibling("Bucket").child_value("Name"), "b");
}

TEST(S3XmlTest, ListBucketV1AndV2) {
  ListBucketResult r;
  r.name = "photos";
  r.prefix = "2024/";
  r.delimiter = "/";
  r.max_keys = 2;
  r.is_truncated = true;
  r.next_marker = "2024/b.jpg";
  r.contents.push_back({"2024/a b.jpg", kTime, "\"etag1\"", 123, "STANDARD", Owner{"o", "d"}});
  r.common_prefixes = {"2024/raw/"};
  pugi::xml_document doc;
  pugi::xml_node root = Root(&doc, WriteListBucketResult(r));
  EXPECT_STREQ(root.name(), "ListBucketResult");
  EXPECT_STREQ(root.child_value("Marker"), "");
  EXPECT_STREQ(root.child_value("NextMarker"), "2024/b.jpg");
  EXPECT_STREQ(root.child_value("IsTruncated"), "true");
  EXPECT_STREQ(root.child_value("MaxKeys"), "2");
  EXPECT_FALSE(root.child("KeyCount"));
  pugi::xml_node c = root.child("Contents");
  EXPECT_STREQ(c.child_value("Key"), "2024/a b.jpg");
  EXPECT_STREQ(c.child_value("ETag"), "\"etag1\"");
  EXPECT_STREQ(c.child_value("Size"), "123");
  EXPECT_STREQ(c.child("Owner").child_value("ID"), "o");
  EXPECT_STREQ(root.child("CommonPrefixes").child_value("Prefix"), "2024/raw/");

  r.v2 = true;
  r.url_encode = true;
  r.continuation_token = "tok";
  r.next_continuation_token = "next";
  r.contents[0].owner.reset();
  root = Root(&doc, WriteListBucketResult(r));
  EXPECT_STREQ(root.child_value("KeyCount"), "2");
  EXPECT_STREQ(root.child_value("ContinuationToken"), "tok");
  EXPECT_STREQ(root.child_value("NextContinuationToken"), "next");
  EXPECT_STREQ(root.child_value("EncodingType"), "url");
  EXPECT_FALSE(root.child("Marker"));
  EXPECT_STREQ(root.child("Contents").child_value("Key"), "2024/a%20b.jpg");
  EXPECT_FALSE(root.child("Contents").child("Owner"));
}

TEST(S3XmlTest, UrlEncodeForListing) {
  EXPECT_EQ(UrlEncodeForListing("a b/c+d%\x01\xc3\xa9"), "a%20b/c%2Bd%25%01%C3%A9");
}

TEST(S3XmlTest, SmallResults) {
  pugi::xml_document doc;
  EXPECT_STREQ(Root(&doc, WriteLocationConstraint("us-east-1")).child_value(), "");
  EXPECT_STREQ(Root(&doc, WriteLocationConstraint("eu-west-1")).child_value(), "eu-west-1");
  pugi::xml_node r = Root(&doc, WriteInitiateMultipartUploadResult("b", "k&", "u1"));
  EXPECT_STREQ(r.name(), "InitiateMultipartUploadResult");
  EXPECT_STREQ(r.child_value("Key"), "k&");
  EXPECT_STREQ(r.child_value("UploadId"), "u1");
  r = Root(&doc, WriteCopyObjectResult("\"e\"", kTime));
  EXPECT_STREQ(r.name(), "CopyObjectResult");
  EXPECT_STREQ(r.child_value("LastModified"), "2009-10-12T17:50:30.042Z");
  EXPECT_STREQ(r.child_value("ETag"), "\"e\"");
  r = Root(&doc, WriteCopyPartResult("\"p\"", kTime));
  EXPECT_STREQ(r.name(), "CopyPartResult");
  CompleteMultipartUploadResult c{"http://h/b/k", "b", "k", "\"x-2\"", {}};
  c.checksums.crc64nvme = "AAAAAAAAAAA=";
  r = Root(&doc, WriteCompleteMultipartUploadResult(c));
  EXPECT_STREQ(r.child_value("ETag"), "\"x-2\"");
  EXPECT_STREQ(r.child_value("ChecksumCRC64NVME"), "AAAAAAAAAAA=");
  EXPECT_FALSE(r.child("ChecksumCRC32"));
}

TEST(S3XmlTest, DeleteResultQuietListsOnlyErrors) {
  std::vector<DeletedEntry> deleted = {{"a", ""}, {"b", "v1"}};
  std::vector<DeleteErrorEntry> errors = {{"c", "AccessDenied", "Access Denied"}};
  pugi::xml_document doc;
  pugi::xml_node r = Root(&doc, WriteDeleteResult(deleted, errors, false));
  EXPECT_STREQ(r.child("Deleted").child_value("Key"), "a");
  EXPECT_STREQ(r.child("Deleted").next_sibling("Deleted").child_value("VersionId"), "v1");
  EXPECT_STREQ(r.child("Error").child_value("Code"), "AccessDenied");
  r = Root(&doc, WriteDeleteResult(deleted, errors, true));
  EXPECT_FALSE(r.child("Deleted"));
  EXPECT_TRUE(r.child("Error"));
}

TEST(S3XmlTest, ListPartsAndUploads) {
  ListPartsResult lp;
  lp.bucket = "b";
  lp.key = "k";
  lp.upload_id = "u";
  lp.parts.push_back({1, kTime, "\"e1\"", 5242880, {}});
  lp.parts.push_back({2, kTime, "\"e2\"", 10, {}});
  lp.next_part_number_marker = 2;
  pugi::xml_document doc;
  pugi::xml_node r = Root(&doc, WriteListPartsResult(lp));
  EXPECT_STREQ(r.name(), "ListPartsResult");
  EXPECT_STREQ(r.child_value("NextPartNumberMarker"), "2");
  EXPECT_STREQ(r.child("Part").child_value("Size"), "5242880");
  EXPECT_STREQ(r.child("Part").next_sibling("Part").child_value("PartNumber"), "2");
  ListMultipartUploadsResult lu;
  lu.bucket = "b";
  lu.uploads.push_back({"k 1", "u1", {"i", "n"}, {"o", "n"}, "STANDARD", kTime});
  lu.common_prefixes = {"p/"};
  lu.url_encode = true;
  r = Root(&doc, WriteListMultipartUploadsResult(lu));
  EXPECT_STREQ(r.name(), "ListMultipartUploadsResult");
  EXPECT_STREQ(r.child("Upload").child_value("Key"), "k%201");
  EXPECT_STREQ(r.child("Upload").child_value("Initiated"), "2009-10-12T17:50:30.042Z");
  EXPECT_STREQ(r.child("CommonPrefixes").child_value("Prefix"), "p/");
}

TEST(S3XmlTest, ParseCreateBucketConfiguration) {
  EXPECT_THAT(ParseCreateBucketConfiguration(""), tessera::testing::IsOkAndHolds(""));
  EXPECT_THAT(ParseCreateBucketConfiguration(
                  "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                  "<LocationConstraint>eu-west-1</LocationConstraint>"
                  "</CreateBucketConfiguration>"),
              tessera::testing::IsOkAndHolds("eu-west-1"));
  EXPECT_EQ(ErrorCodeOf(ParseCreateBucketConfiguration("<Other/>").status()),
            S3ErrorCode::kMalformedXML);
  EXPECT_EQ(ErrorCodeOf(ParseCreateBucketConfiguration("<CreateBucketConfiguration>").status()),
            S3ErrorCode::kMalformedXML);
}

TEST(S3XmlTest, ParseDelete) {
  ASSERT_OK_AND_ASSIGN(
      DeleteRequest d,
      ParseDeleteRequest("<?xml version=\"1.0\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/"
                         "2006-03-01/\"><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object>"
                         "<Object><Key>c</Key><VersionId>v</VersionId></Object></Delete>"));
  EXPECT_TRUE(d.quiet);
  ASSERT_EQ(d.objects.size(), 2u);
  EXPECT_EQ(d.objects[0].key, "a&b");
  EXPECT_EQ(d.objects[1].version_id, "v");
  std::string many = "<Delete>";
  for (int i = 0; i < 1001; ++i) many += "<Object><Key>k</Key></Object>";
  many += "</Delete>";
  for (const std::string& bad :
       {std::string("<Delete></Delete>"), std::string("<Delete><Object/></Delete>"),
        std::string("<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>"),
        std::string("<Delete><Object><Key>a</Key></Object><Extra/></Delete>"),
        std::string("<Delete><Object><Key>a</Key></Object>"), std::string("not xml"),
        std::string("<Delete><Object><Key><b/></Key></Object></Delete>"), many}) {
    EXPECT_EQ(ErrorCodeOf(ParseDeleteRequest(bad).status()), S3ErrorCode::kMalformedXML) << bad;
  }
}

TEST(S3XmlTest, ParseCompleteMultipartUpload) {
  ASSERT_OK_AND_ASSIGN(
      std::vector<CompletedPart> parts,
      ParseCompleteMultipartUpload(
          "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"a54357aff0632cce46d94"
          "2af68356b38\"</ETag><ChecksumCRC32C>sOO8/Q==</ChecksumCRC32C></Part><Part>"
          "<ETag>\"0c78aef83f66abc1fa1e8477f296d394\"</ETag><PartNumber> 2 </PartNumber></Part>"
          "</CompleteMultipartUpload>"));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].part_number, 1);
  EXPECT_EQ(parts[0].etag, "\"a54357aff0632cce46d942af68356b38\"");
  EXPECT_EQ(parts[0].checksums.crc32c, "sOO8/Q==");
  EXPECT_EQ(parts[1].part_number, 2);
  for (const char* bad : {"<CompleteMultipartUpload/>",
                          "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>e</ETag>"
                          "</Part></CompleteMultipartUpload>",
                          "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e"
                          "</ETag></Part></CompleteMultipartUpload>",
                          "<CompleteMultipartUpload><Part><ETag>e</ETag></Part>"
                          "</CompleteMultipartUpload>",
                          "<CompleteMultipartUpload><Other/></CompleteMultipartUpload>",
                          "<CompleteMultipartUpload><Part>"}) {
    EXPECT_EQ(ErrorCodeOf(ParseCompleteMultipartUpload(bad).status()), S3ErrorCode::kMalformedXML)
        << bad;
  }
}

}  // namespace
}  // namespace tessera::services::s3
