#include "base/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace tessera {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("photos/2024/cat.jpg"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9"));              // U+00E9
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));          // U+20AC
  EXPECT_TRUE(IsValidUtf8("\xed\x9f\xbf"));          // U+D7FF, just below the surrogates
  EXPECT_TRUE(IsValidUtf8("\xee\x80\x80"));          // U+E000, just above them
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));      // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));      // U+10FFFF, the last code point
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));  // NUL is a valid code point
}

TEST(Utf8Test, RefusesOverlongForms) {
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // '/' as two bytes
  EXPECT_FALSE(IsValidUtf8("\xc1\xbf"));          // U+007F as two bytes
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // '/' as three bytes
  EXPECT_FALSE(IsValidUtf8("\xe0\x9f\xbf"));      // U+07FF as three bytes
  EXPECT_FALSE(IsValidUtf8("\xf0\x80\x80\xaf"));  // '/' as four bytes
  EXPECT_FALSE(IsValidUtf8("\xf0\x8f\xbf\xbf"));  // U+FFFF as four bytes
}

TEST(Utf8Test, RefusesSurrogatesOutOfRangeAndStrayBytes) {
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // U+D800
  EXPECT_FALSE(IsValidUtf8("\xed\xbf\xbf"));      // U+DFFF
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\x80"));          // continuation byte without a lead
  EXPECT_FALSE(IsValidUtf8("a\xc3"));         // truncated at the end
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));      // truncated three-byte sequence
  EXPECT_FALSE(IsValidUtf8("\xe2\x28\xa1"));  // bad continuation byte
  EXPECT_FALSE(IsValidUtf8("\xf0\x9f\x98"));  // truncated four-byte sequence
}

}  // namespace
}  // namespace tessera
